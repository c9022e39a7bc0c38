package tokens

import (
	"context"
	"fmt"
	"time"
)

// RevokeFamily revokes a refresh-token family and denies the newest access
// token issued with it, which may be in the same hands as the family's
// refresh token (RFC 7009 §2.1: revoking a grant's refresh token should
// invalidate its access tokens). That token was issued at or before now,
// so it is denied until now + accessTTL, past its exp. Older access tokens
// of the family are not known by jti and run out within accessTTL.
//
// It returns the family (revoked) and ErrFamilyNotFound when there is none
// (a tombstone is left, see RefreshStore.RevokeFamily). A deny-list failure
// is returned after the family has been revoked.
func RevokeFamily(ctx context.Context, fams RefreshStore, deny DenyList, id string, tombstoneTTL, accessTTL time.Duration, now time.Time) (Family, error) {
	f, err := fams.RevokeFamily(ctx, id, tombstoneTTL)
	if err != nil {
		return f, err
	}
	return f, DenyNewestAccess(ctx, deny, f, accessTTL, now)
}

// DenyNewestAccess denies the newest access token of a family the store has
// already revoked (a rotation that detected reuse returns it revoked), so
// that path needs no second revocation.
func DenyNewestAccess(ctx context.Context, deny DenyList, f Family, accessTTL time.Duration, now time.Time) error {
	if f.LastJTI == "" || deny == nil {
		return nil
	}
	if err := deny.DenyJTI(ctx, f.LastJTI, now.Add(accessTTL)); err != nil {
		return fmt.Errorf("deny the newest access token of a revoked family: %w", err)
	}
	return nil
}
