package clients

import (
	"context"
	"errors"
	"time"
)

// lastUseEvery is how often an anonymous client's LastUsedAt is written:
// often enough against a TTL of days, rarely enough to cost nothing.
const lastUseEvery = time.Hour

// ExpireAnonymousAfter makes an anonymous client that got no token for ttl
// unknown to Lookup at once, and listed by ExpiredAnonymous for deletion.
// Call it while wiring, before the registry serves.
func (r *Registry) ExpireAnonymousAfter(ttl time.Duration) { r.anonymousTTL = ttl }

// anonymousExpired reports whether c is an anonymous client unused for
// the TTL, counted from its last token or, with none, its registration.
func (r *Registry) anonymousExpired(c *Client) bool {
	if !c.Anonymous || r.anonymousTTL <= 0 {
		return false
	}
	return !r.now().Before(c.lastUse().Add(r.anonymousTTL))
}

func (c *Client) lastUse() time.Time {
	if c.LastUsedAt.After(c.CreatedAt) {
		return c.LastUsedAt
	}
	return c.CreatedAt
}

// NoteTokenIssued records that c got a token, when c is anonymous and its
// last recorded use is an hour old or more, so that it does not expire.
// The record is read fresh before it is written, as every
// read-modify-write of a client is.
func (r *Registry) NoteTokenIssued(ctx context.Context, c *Client) error {
	now := r.now().UTC()
	if !c.Anonymous || now.Before(c.LastUsedAt.Add(lastUseEvery)) {
		return nil
	}
	cur, err := r.fresh().GetClient(ctx, c.ID)
	if err != nil {
		return err
	}
	if now.Before(cur.LastUsedAt.Add(lastUseEvery)) {
		return nil // another request recorded it
	}
	cur.LastUsedAt = now
	err = r.store.UpdateClient(ctx, cur)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted meanwhile
	}
	return err
}

// ExpiredAnonymous lists the anonymous clients unused for the TTL, for the
// janitor that deletes them (registration.Service.DeleteUnused).
func (r *Registry) ExpiredAnonymous(ctx context.Context) ([]*Client, error) {
	if r.anonymousTTL <= 0 {
		return nil, nil
	}
	all, err := r.fresh().ListClients(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Client
	for _, c := range all {
		if r.anonymousExpired(c) {
			out = append(out, c)
		}
	}
	return out, nil
}
