package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/tokens"
)

// CreateFamily implements tokens.RefreshStore. The family is written first
// (one script, failing on a tombstone or a live family), then its ID is
// added to the user's index: see the package doc for why that order is safe.
func (s *Store) CreateFamily(ctx context.Context, f tokens.Family, tokenHash []byte) error {
	cur, err := hashID(tokenHash)
	if err != nil {
		return err
	}
	if f.ID == "" {
		return errors.New("redisstore: CreateFamily: empty family ID")
	}
	d, err := marshal(f)
	if err != nil {
		return err
	}
	rev := "0"
	if f.Revoked {
		rev = "1"
	}
	exp := expireAtMs(f.ExpiresAt)
	ok, err := s.runWrite(ctx, scriptFamilyCreate, s.key("fam", f.ID),
		d, f.ClientID, nanos(f.ExpiresAt), nanos(f.IdleExpiresAt),
		f.Generation, f.LastJTI, cur, rev, exp, nanos(time.Now())).Int()
	if err != nil {
		return wrap("create family", err)
	}
	if ok == 0 {
		return tokens.ErrFamilyExists
	}
	if !f.ExpiresAt.After(time.Now()) {
		return nil // already gone: nothing to list
	}
	return wrap("index family", s.indexFamily(ctx, f, exp))
}

// indexFamily adds a new family to its user's and its client's index in
// one round trip (their keys are in different slots, so a pipeline, not
// one script). A pipeline cannot fall back from EVALSHA on NOSCRIPT by
// itself: a server that does not know the script yet gets it once by EVAL,
// which also caches it there.
func (s *Store) indexFamily(ctx context.Context, f tokens.Family, exp int64) error {
	indexes := []string{s.key("ufam", f.UserID), s.key("cfam", f.ClientID)}
	run := func(bySHA bool) error {
		p := s.rdb.Pipeline()
		for _, idx := range indexes {
			if bySHA {
				scriptFamilyIndexAdd.EvalSha(ctx, p, []string{idx}, exp, f.ID)
			} else {
				scriptFamilyIndexAdd.Eval(ctx, p, []string{idx}, exp, f.ID)
			}
		}
		return execPipe(ctx, p)
	}
	err := run(true)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = run(false)
	}
	return err
}

// RotateRefresh implements tokens.RefreshStore in one script
// (scriptFamilyRotate).
func (s *Store) RotateRefresh(ctx context.Context, r tokens.Rotation) (tokens.Family, tokens.RotateOutcome, error) {
	presented, err := hashID(r.Presented)
	if err != nil {
		return tokens.Family{}, 0, err
	}
	next, err := hashID(r.Next)
	if err != nil {
		return tokens.Family{}, 0, err
	}
	idle := "" // no idle limit: the family lives to its absolute expiry
	if r.Idle > 0 {
		idle = nanos(r.Now.Add(r.Idle))
	}
	graceFloor := ""
	if r.Grace > 0 {
		graceFloor = nanos(r.Now.Add(-r.Grace))
	}
	res, err := s.runWrite(ctx, scriptFamilyRotate, s.key("fam", r.FamilyID),
		r.ClientID, presented, next, r.NextJTI, nanos(r.Now), idle, graceFloor, r.Generation).Slice()
	if err != nil {
		return tokens.Family{}, 0, wrap("rotate refresh token", err)
	}
	outcome, f, err := familyResult(res)
	if err != nil {
		return tokens.Family{}, 0, err
	}
	switch outcome {
	case famOK:
		return f, tokens.Rotated, nil
	case famRecovered:
		return f, tokens.Recovered, nil
	case famRetried:
		return f, tokens.Retried, nil
	case famRevoked:
		return f, 0, tokens.ErrFamilyRevoked
	case famMismatch:
		return tokens.Family{}, 0, tokens.ErrClientMismatch
	case famReuse:
		return f, 0, tokens.ErrReuse
	default:
		return tokens.Family{}, 0, tokens.ErrFamilyNotFound
	}
}

// GetFamily implements tokens.RefreshStore. The key itself expires at the
// absolute expiry; the idle expiry is checked here against the clock.
func (s *Store) GetFamily(ctx context.Context, id string) (tokens.Family, error) {
	h, err := s.rdb.HGetAll(ctx, s.key("fam", id)).Result()
	if err != nil {
		return tokens.Family{}, wrap("get family", err)
	}
	f, ok, err := familyFromHash(h)
	if err != nil {
		return tokens.Family{}, err
	}
	if !ok || expired(f, time.Now()) {
		return tokens.Family{}, tokens.ErrFamilyNotFound
	}
	return f, nil
}

// RevokeFamily implements tokens.RefreshStore in one script
// (scriptFamilyRevoke). Expiry is judged by the wall clock, as there is no
// now to go by.
func (s *Store) RevokeFamily(ctx context.Context, id string, tombstoneTTL time.Duration) (tokens.Family, error) {
	ttl := int64(0)
	if tombstoneTTL > 0 {
		ttl = millis(tombstoneTTL)
	}
	res, err := s.runWrite(ctx, scriptFamilyRevoke, s.key("fam", id), ttl, nanos(time.Now())).Slice()
	if err != nil {
		return tokens.Family{}, wrap("revoke family", err)
	}
	outcome, f, err := familyResult(res)
	if err != nil {
		return tokens.Family{}, err
	}
	if outcome != famOK {
		return tokens.Family{}, tokens.ErrFamilyNotFound
	}
	return f, nil
}

// ListUserFamilies implements tokens.RefreshStore from the user's index.
func (s *Store) ListUserFamilies(ctx context.Context, userID string) ([]tokens.Family, error) {
	return s.listFamilies(ctx, s.key("ufam", userID), func(f *tokens.Family) bool { return f.UserID == userID })
}

// ListClientFamilies implements tokens.RefreshStore from the client's index.
func (s *Store) ListClientFamilies(ctx context.Context, clientID string) ([]tokens.Family, error) {
	return s.listFamilies(ctx, s.key("cfam", clientID), func(f *tokens.Family) bool { return f.ClientID == clientID })
}

// listFamilies reads every family in an index, keeps the live ones, and
// drops from the index the IDs that can never be live again (gone, revoked,
// or not the owner's).
func (s *Store) listFamilies(ctx context.Context, idx string, owns func(*tokens.Family) bool) ([]tokens.Family, error) {
	ids, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, wrap("list families", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	p := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.HGetAll(ctx, s.key("fam", id))
	}
	if err := execPipe(ctx, p); err != nil {
		return nil, wrap("list families", err)
	}
	now := time.Now()
	var live []tokens.Family
	var stale []any
	for i, c := range cmds {
		h, err := c.Result()
		if err != nil {
			return nil, wrap("list families", err)
		}
		f, ok, err := familyFromHash(h)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok || f.Revoked || !owns(&f):
			// Gone, revoked or someone else's: no clock can make it live
			// again, so its ID leaves the index.
			stale = append(stale, ids[i])
		case expired(f, now):
			// Left in the index: a rotation judges expiry by its caller's
			// clock, which may lag ours. The ID goes once the key expires.
		default:
			live = append(live, f)
		}
	}
	if len(stale) > 0 {
		if err := s.rdb.ZRem(ctx, idx, stale...).Err(); err != nil {
			return nil, wrap("prune family index", err)
		}
	}
	slices.SortFunc(live, func(a, b tokens.Family) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return live, nil
}

func expired(f tokens.Family, now time.Time) bool {
	return !now.Before(f.ExpiresAt) || !now.Before(f.IdleExpiresAt)
}

// familyResult decodes a script's {outcome, HGETALL...} reply.
func familyResult(res []any) (int64, tokens.Family, error) {
	if len(res) == 0 {
		return 0, tokens.Family{}, errors.New("redisstore: empty script reply")
	}
	outcome, ok := res[0].(int64)
	if !ok {
		return 0, tokens.Family{}, fmt.Errorf("redisstore: bad script outcome %v", res[0])
	}
	if len(res) < 2 {
		return outcome, tokens.Family{}, nil
	}
	flat, ok := res[1].([]any)
	if !ok {
		return 0, tokens.Family{}, fmt.Errorf("redisstore: bad script reply %T", res[1])
	}
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		h[k] = v
	}
	f, found, err := familyFromHash(h)
	if err != nil {
		return 0, tokens.Family{}, err
	}
	if !found {
		return famNotFound, tokens.Family{}, nil
	}
	return outcome, f, nil
}

// familyFromHash builds a Family from its hash: the JSON written at creation
// with the fields that rotation and revocation change laid over it. found
// is false for a missing key or a tombstone.
func familyFromHash(h map[string]string) (f tokens.Family, found bool, err error) {
	d, ok := h["d"]
	if !ok {
		return f, false, nil
	}
	if err := unmarshal(d, &f); err != nil {
		return f, false, err
	}
	if f.Generation, err = strconv.ParseInt(h["gen"], 10, 64); err != nil {
		return f, false, fmt.Errorf("redisstore: bad generation %q", h["gen"])
	}
	if f.IdleExpiresAt, err = parseNanos(h["idle"]); err != nil {
		return f, false, err
	}
	if rot := h["rot"]; rot != "" {
		if f.RotatedAt, err = parseNanos(rot); err != nil {
			return f, false, err
		}
	}
	f.LastJTI = h["jti"]
	f.Revoked = h["rev"] == "1"
	return f, true, nil
}
