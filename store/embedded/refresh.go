package embedded

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/tokens"
)

// familyRecord is what the families bucket holds under a family ID: the
// family with the hash of its current token, or a tombstone left by
// RevokeFamily for an ID not created yet.
type familyRecord struct {
	Family  tokens.Family `json:"family,omitzero"`
	Current []byte        `json:"current,omitempty"`

	Tombstone      bool      `json:"tombstone,omitempty"`
	TombstoneUntil time.Time `json:"tombstone_until,omitzero"`
}

// liveAt reports whether the record still counts at now: a family until its
// idle or absolute end (revoked or not), a tombstone until its TTL.
func (r *familyRecord) liveAt(now time.Time) bool {
	if r.Tombstone {
		return live(r.TombstoneUntil, now)
	}
	return live(r.Family.ExpiresAt, now) && live(r.Family.IdleExpiresAt, now)
}

func loadFamily(b *bolt.Bucket, id string) (*familyRecord, error) {
	var rec familyRecord
	ok, err := getJSON(b, []byte(id), &rec)
	if err != nil || !ok {
		return nil, err
	}
	return &rec, nil
}

// errCommitted carries an outcome that is an error for the caller but whose
// writes must still be committed (a tombstone, a revocation on reuse): bbolt
// rolls back a transaction whose function returns an error.
type errCommitted struct{ err error }

func (e errCommitted) Error() string { return e.err.Error() }

// updateKeep runs fn like update, but commits when fn returns an
// errCommitted and then returns the error inside it.
func (s *Store) updateKeep(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	var kept error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		kept = nil // a batch may run fn again
		err := fn(tx)
		var ec errCommitted
		if errors.As(err, &ec) {
			kept = ec.err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return kept
}

func (s *Store) CreateFamily(ctx context.Context, f tokens.Family, tokenHash []byte) error {
	if len(tokenHash) == 0 {
		return errors.New("embedded store: CreateFamily without a token hash")
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return createFamily(tx, f, tokenHash, time.Now())
	})
}

// createFamily is CreateFamily inside tx; tests and benchmarks call it to
// write many families in one transaction through the same path.
func createFamily(tx *bolt.Tx, f tokens.Family, tokenHash []byte, now time.Time) error {
	b := tx.Bucket(bucketFamilies)
	old, err := loadFamily(b, f.ID)
	if err != nil {
		return err
	}
	if old != nil {
		if old.liveAt(now) {
			return tokens.ErrFamilyExists
		}
		// An expired family under the same ID: drop its index entry.
		if err := dropIndex(tx, old); err != nil {
			return err
		}
	}
	rec := familyRecord{Family: f, Current: tokenHash}
	if err := putJSON(b, []byte(f.ID), rec); err != nil {
		return err
	}
	var was time.Time
	if old != nil {
		was = old.deadline()
	}
	if err := moveExpiry(tx, kindFamily, []byte(f.ID), was, rec.deadline()); err != nil {
		return err
	}
	if err := tx.Bucket(bucketUserFamilies).Put(pairKey(f.UserID, f.ID), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketClientFamilies).Put(pairKey(f.ClientID, f.ID), nil)
}

func (s *Store) RotateRefresh(ctx context.Context, r tokens.Rotation) (tokens.Family, tokens.RotateOutcome, error) {
	now := orNow(r.Now)
	var out tokens.Family
	var outcome tokens.RotateOutcome
	err := s.updateKeep(ctx, func(tx *bolt.Tx) error {
		outcome = 0 // a batch may run fn again
		b := tx.Bucket(bucketFamilies)
		rec, err := loadFamily(b, r.FamilyID)
		if err != nil {
			return err
		}
		if rec == nil || rec.Tombstone || !rec.liveAt(now) {
			return tokens.ErrFamilyNotFound
		}
		f := &rec.Family
		was := rec.deadline() // a rotation moves the idle expiry
		// Checked before the token, so another client's request can never
		// revoke (or reveal) this family.
		if f.ClientID != r.ClientID {
			return tokens.ErrClientMismatch
		}
		if f.Revoked {
			out = *f
			return tokens.ErrFamilyRevoked
		}
		switch {
		case equal(r.Presented, rec.Current):
			outcome = tokens.Rotated
		case r.Grace > 0 && equal(r.Next, rec.Current) && now.Before(f.RotatedAt.Add(r.Grace)):
			out, outcome = *f, tokens.Retried
			return nil
		case r.Generation > f.Generation:
			outcome = tokens.Recovered
		default:
			f.Revoked = true
			out = *f
			if err := putJSON(b, []byte(f.ID), rec); err != nil {
				return err
			}
			return errCommitted{tokens.ErrReuse}
		}
		rec.Current = r.Next
		f.Generation = r.Generation + 1
		f.RotatedAt = now
		f.LastJTI = r.NextJTI
		f.IdleExpiresAt = now.Add(r.Idle)
		if f.IdleExpiresAt.After(f.ExpiresAt) {
			f.IdleExpiresAt = f.ExpiresAt
		}
		out = *f
		if err := putJSON(b, []byte(f.ID), rec); err != nil {
			return err
		}
		return moveExpiry(tx, kindFamily, []byte(f.ID), was, rec.deadline())
	})
	if err != nil {
		return out, 0, err
	}
	return out, outcome, nil
}

func (s *Store) GetFamily(ctx context.Context, id string) (tokens.Family, error) {
	var out tokens.Family
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rec, err := loadFamily(tx.Bucket(bucketFamilies), id)
		if err != nil {
			return err
		}
		if rec == nil || rec.Tombstone || !rec.liveAt(time.Now()) {
			return tokens.ErrFamilyNotFound
		}
		out = rec.Family
		return nil
	})
	return out, err
}

// RevokeFamily revokes a live family (again, if it already was: not an
// error) and returns it. For an unknown or expired ID it leaves a tombstone
// for tombstoneTTL (none if tombstoneTTL <= 0; an existing tombstone is only
// ever extended) and returns ErrFamilyNotFound.
func (s *Store) RevokeFamily(ctx context.Context, id string, tombstoneTTL time.Duration) (tokens.Family, error) {
	var out tokens.Family
	err := s.updateKeep(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFamilies)
		rec, err := loadFamily(b, id)
		if err != nil {
			return err
		}
		now := time.Now()
		if rec != nil && !rec.Tombstone && rec.liveAt(now) {
			out = rec.Family
			if rec.Family.Revoked {
				return nil
			}
			rec.Family.Revoked = true
			out = rec.Family
			return putJSON(b, []byte(id), rec)
		}
		if tombstoneTTL <= 0 {
			return tokens.ErrFamilyNotFound
		}
		until := now.Add(tombstoneTTL)
		var was time.Time
		if rec != nil {
			if rec.Tombstone && rec.TombstoneUntil.After(until) {
				until = rec.TombstoneUntil
			}
			if err := dropIndex(tx, rec); err != nil {
				return err
			}
			was = rec.deadline()
		}
		if err := putJSON(b, []byte(id), familyRecord{Tombstone: true, TombstoneUntil: until}); err != nil {
			return err
		}
		if err := moveExpiry(tx, kindFamily, []byte(id), was, until); err != nil {
			return err
		}
		return errCommitted{tokens.ErrFamilyNotFound}
	})
	return out, err
}

func (s *Store) ListUserFamilies(ctx context.Context, userID string) ([]tokens.Family, error) {
	return s.listFamilies(ctx, bucketUserFamilies, userID, func(f *tokens.Family) bool { return f.UserID == userID })
}

func (s *Store) ListClientFamilies(ctx context.Context, clientID string) ([]tokens.Family, error) {
	return s.listFamilies(ctx, bucketClientFamilies, clientID, func(f *tokens.Family) bool { return f.ClientID == clientID })
}

// listFamilies returns the live families an index lists under owner.
func (s *Store) listFamilies(ctx context.Context, index []byte, owner string, owns func(*tokens.Family) bool) ([]tokens.Family, error) {
	var out []tokens.Family
	err := s.view(ctx, func(tx *bolt.Tx) error {
		fams := tx.Bucket(bucketFamilies)
		prefix := pairKey(owner, "")
		c := tx.Bucket(index).Cursor()
		now := time.Now()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rec, err := loadFamily(fams, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if rec == nil || rec.Tombstone || rec.Family.Revoked || !owns(&rec.Family) || !rec.liveAt(now) {
				continue
			}
			out = append(out, rec.Family)
		}
		return nil
	})
	return out, err
}

// dropIndex removes a family record's entries in the per-user and
// per-client indexes.
func dropIndex(tx *bolt.Tx, rec *familyRecord) error {
	if rec.Tombstone {
		return nil
	}
	if err := tx.Bucket(bucketUserFamilies).Delete(pairKey(rec.Family.UserID, rec.Family.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketClientFamilies).Delete(pairKey(rec.Family.ClientID, rec.Family.ID))
}

// equal compares two token hashes in constant time; an empty hash matches
// nothing.
func equal(a, b []byte) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1
}
