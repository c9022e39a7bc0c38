package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"time"

	"authserver/tokens"
)

// LookupRefresh implements tokens.RefreshStore with one HGETALL: a read
// needs no script. Expiry is judged by now, as in RotateRefresh.
func (s *Store) LookupRefresh(ctx context.Context, familyID string, tokenHash []byte, now time.Time) (tokens.Family, error) {
	if len(tokenHash) != sha256.Size {
		return tokens.Family{}, tokens.ErrFamilyNotFound
	}
	if now.IsZero() {
		now = time.Now()
	}
	h, err := s.rdb.HGetAll(ctx, s.key("fam", familyID)).Result()
	if err != nil {
		return tokens.Family{}, wrap("lookup refresh token", err)
	}
	f, ok, err := familyFromHash(h)
	if err != nil {
		return tokens.Family{}, err
	}
	// The hash is checked before revocation, so a guess at a family id
	// learns nothing about the family.
	want := []byte(hex.EncodeToString(tokenHash))
	if !ok || expired(f, now) || subtle.ConstantTimeCompare(want, []byte(h["cur"])) != 1 {
		return tokens.Family{}, tokens.ErrFamilyNotFound
	}
	if f.Revoked {
		return tokens.Family{}, tokens.ErrFamilyRevoked
	}
	return f, nil
}
