package grants

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/clients"
	"authserver/tokens"
)

// authorizationCode (RFC 6749 §4.1.3, RFC 7636 §4.6). The code is consumed
// in one atomic store step before anything else is checked, so a code that
// fails any check is burnt: a wrong verifier cannot be retried, and a code
// sent by the wrong client is dead for the right one too. go-oauth2's own
// exchange reads the code and deletes it in two calls (two redemptions can
// both win), and answers a missing verifier with a 500.
func (e *Endpoint) authorizationCode(ctx context.Context, st *tokenRequest, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	c, err := e.codes.RedeemCode(ctx, tokens.Hash(tgr.Code), st.now)
	switch {
	case errors.Is(err, tokens.ErrCodeReused):
		// RFC 6749 §4.1.2: revoke what the first redemption issued.
		e.events.Warn(ctx, audit.CodeReplayed, audit.ClientID(st.client.ID), slog.String("issued_to", c.ClientID), audit.UserID(c.UserID))
		_ = e.revokeFamily(ctx, c.FamilyID, audit.CodeReplayed)
		if e.deny != nil {
			if derr := e.deny.DenyJTI(ctx, codeJTI(c.FamilyID), e.now().Add(e.cfg.AccessTTL)); derr != nil {
				e.audit.ErrorContext(ctx, "deny access token of a replayed code", "family_id", c.FamilyID, "err", derr)
			}
		}
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid authorization code")
	case errors.Is(err, tokens.ErrCodeNotFound):
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid authorization code")
	case err != nil:
		return nil, err
	}
	if err := e.checkCode(ctx, st.client, c, tgr); err != nil {
		return nil, err
	}

	jti := codeJTI(c.FamilyID)
	ti, err := e.issueAccess(ctx, st, c.UserID, c.Scope, jti)
	if err != nil {
		return nil, err
	}
	if st.client.AllowsGrant(clients.GrantRefreshToken) {
		rt, err := e.startFamily(ctx, st, c.FamilyID, c.UserID, c.Scope, jti, c.AuthTime)
		// ErrFamilyExists: a replay of this code got in first and left a
		// tombstone. This is still the first redemption, so it is answered,
		// but what it issues is already dead: the family never comes to life
		// and the replay denied this jti, the same outcome as issue-then-revoke.
		if err != nil && !errors.Is(err, tokens.ErrFamilyExists) {
			return nil, err
		}
		ti.SetRefresh(rt)
	}
	return ti, nil
}

// checkCode holds the bindings of a redeemed code: the client, the exact
// redirect URI, and the PKCE verifier. Every failure is invalid_grant
// (RFC 6749 §5.2).
func (e *Endpoint) checkCode(ctx context.Context, client *clients.Client, c tokens.Code, tgr *oauth2.TokenGenerateRequest) error {
	if c.ClientID != client.ID {
		e.events.Warn(ctx, audit.CodeClientMismatch, audit.ClientID(client.ID), slog.String("issued_to", c.ClientID), audit.UserID(c.UserID))
		return oauthErr(oerrors.ErrInvalidGrant, "invalid authorization code")
	}
	if c.RedirectURI != tgr.RedirectURI {
		return oauthErr(oerrors.ErrInvalidGrant, "redirect_uri does not match the authorization request")
	}
	if c.CodeChallenge == "" {
		// RFC 9700 §2.1.1: a verifier without a challenge is refused, and a
		// code without one is only good while policy allows that.
		if tgr.CodeVerifier != "" || e.PKCERequired(client) {
			return oauthErr(oerrors.ErrInvalidGrant, "PKCE verification failed")
		}
		return nil
	}
	if tgr.CodeVerifier == "" {
		return oauthErr(oerrors.ErrInvalidGrant, "code_verifier is required")
	}
	if !validVerifier(tgr.CodeVerifier) || subtle.ConstantTimeCompare([]byte(s256(tgr.CodeVerifier)), []byte(c.CodeChallenge)) != 1 {
		return oauthErr(oerrors.ErrInvalidGrant, "PKCE verification failed")
	}
	return nil
}
