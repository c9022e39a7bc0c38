package embedded

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/tokens"
)

// LookupRefresh implements tokens.RefreshStore in one read transaction.
func (s *Store) LookupRefresh(ctx context.Context, familyID string, tokenHash []byte, now time.Time) (tokens.Family, error) {
	now = orNow(now)
	var out tokens.Family
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rec, err := loadFamily(tx.Bucket(bucketFamilies), familyID)
		if err != nil {
			return err
		}
		// The hash is checked before revocation, so a guess at a family id
		// learns nothing about the family.
		if rec == nil || rec.Tombstone || !rec.liveAt(now) || !equal(tokenHash, rec.Current) {
			return tokens.ErrFamilyNotFound
		}
		if rec.Family.Revoked {
			return tokens.ErrFamilyRevoked
		}
		out = rec.Family
		return nil
	})
	return out, err
}
