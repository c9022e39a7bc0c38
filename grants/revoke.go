package grants

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"authserver/audit"
	"authserver/clients"
	"authserver/tokens"
)

// reasonRevokedByClient is the audit reason of a revocation at /revoke.
const reasonRevokedByClient = "revoked_by_client"

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	hintAccessToken  = "access_token"
	hintRefreshToken = "refresh_token"
)

// lookupOrder is the order in which a token is tried as each type: the
// hinted type first, then the other, so a wrong hint costs nothing but never
// hides a token. An unknown hint is no hint. Refresh tokens and JWTs differ
// in form, so the wrong type is refused without a store round trip.
func lookupOrder(hint string) [2]string {
	if hint == hintRefreshToken {
		return [2]string{hintRefreshToken, hintAccessToken}
	}
	return [2]string{hintAccessToken, hintRefreshToken}
}

// RevocationHandler serves POST /revoke (RFC 7009). The client
// authenticates as at /token (a public client with its client_id); the
// answer is 200 whether or not anything was revoked, so it tells nothing
// about tokens the client does not own:
//
//   - its own refresh token: the family is revoked, with the newest access
//     token issued from it (tokens.RevokeFamily);
//   - its own access token: the jti is denied until the token's exp;
//   - another client's token, an unknown, expired or malformed one: nothing.
func (e *Endpoint) RevocationHandler() http.Handler {
	if e.deny == nil {
		panic("grants: revocation needs Deps.Deny") // wiring error, caught at start-up
	}
	return http.HandlerFunc(e.serveRevoke)
}

func (e *Endpoint) serveRevoke(w http.ResponseWriter, r *http.Request) {
	c, token, ok := e.readAuthenticated(w, r, nil)
	if !ok {
		return
	}
	ctx := r.Context()
	var err error
	for _, kind := range lookupOrder(r.PostForm.Get("token_type_hint")) {
		var found bool
		if kind == hintRefreshToken {
			found, err = e.revokeRefresh(ctx, c, token)
		} else {
			found, err = e.revokeAccess(ctx, c, token)
		}
		if err != nil {
			e.writeError(w, inRequest(ctx, err))
			return
		}
		if found {
			break
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// revokeRefresh revokes the family of token when it is the current token
// of a live family of client c. found reports whether token is shaped like
// a refresh token (then it is no access token either).
func (e *Endpoint) revokeRefresh(ctx context.Context, c *clients.Client, token string) (found bool, err error) {
	familyID, ok := tokens.ParseRefreshToken(token)
	if !ok {
		return false, nil
	}
	f, err := e.families.LookupRefresh(ctx, familyID, tokens.Hash(token), e.now())
	switch {
	case errors.Is(err, tokens.ErrFamilyNotFound), errors.Is(err, tokens.ErrFamilyRevoked):
		return true, nil // already unusable
	case err != nil:
		return true, err
	}
	if f.ClientID != c.ID {
		// RFC 6749 §10.4: a refresh token is bound to its client; another
		// client holding it may not even end it.
		e.events.Warn(ctx, audit.RefreshClientMismatch, audit.FamilyID(familyID), audit.ClientID(c.ID), audit.Reason("revocation"))
		return true, nil
	}
	return true, e.revokeFamily(ctx, familyID, reasonRevokedByClient)
}

// revokeAccess denies the jti of token when it is a valid access token of
// client c. found reports whether token is a valid access token.
func (e *Endpoint) revokeAccess(ctx context.Context, c *clients.Client, token string) (found bool, err error) {
	claims, err := e.issuer.Verify(token)
	if err != nil || claims.ID == "" || claims.ExpiresAt == nil {
		return false, nil // not one of ours, or expired: nothing left to revoke
	}
	if claims.ClientID != c.ID {
		return true, nil
	}
	if err := e.deny.DenyJTI(ctx, claims.ID, claims.ExpiresAt.Time); err != nil {
		return true, err
	}
	e.events.Info(ctx, audit.AccessTokenRevoked, audit.ClientID(c.ID), audit.UserID(userOf(claims)), slog.String("jti", claims.ID))
	return true, nil
}

// userOf is the user an access token speaks for: its sub, unless the token
// is the client's own (client_credentials, where sub is the client).
func userOf(claims *AccessClaims) string {
	if claims.Subject == claims.ClientID {
		return ""
	}
	return claims.Subject
}
