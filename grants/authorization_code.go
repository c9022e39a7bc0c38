package grants

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"

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
func (e *Endpoint) authorizationCode(ctx context.Context, req *tokenRequest) (*issued, error) {
	code, err := required(req, "code")
	if err != nil {
		return nil, err
	}
	redirectURI, err := required(req, "redirect_uri")
	if err != nil {
		return nil, err
	}
	c, err := e.codes.RedeemCode(ctx, tokens.Hash(code), req.now)
	invalid := oauthErr(oerrors.ErrInvalidGrant, "invalid authorization code")
	switch {
	case errors.Is(err, tokens.ErrCodeReused):
		// RFC 6749 §4.1.2: revoke what the first redemption issued.
		e.events.Warn(ctx, audit.CodeReplayed, audit.ClientID(req.client.ID), slog.String("issued_to", c.ClientID), audit.UserID(c.UserID))
		if _, err := e.revoker.RevokeFamily(ctx, c.FamilyID, tokens.ReasonCodeReplayed); err != nil {
			e.audit.ErrorContext(ctx, "revoke the family of a replayed code", "family_id", c.FamilyID, "err", err)
		}
		if err := e.revoker.DenyAccess(ctx, codeJTI(c.FamilyID), e.now()); err != nil {
			e.audit.ErrorContext(ctx, "deny access token of a replayed code", "family_id", c.FamilyID, "err", err)
		}
		return nil, invalid
	case errors.Is(err, tokens.ErrCodeNotFound):
		return nil, invalid
	case err != nil:
		return nil, err
	}
	if err := e.checkCode(ctx, req.client, c, redirectURI, req.form.Get("code_verifier")); err != nil {
		return nil, err
	}
	if err := e.codeKeyMatches(ctx, c, req); err != nil {
		return nil, err
	}
	// A code outlives neither its client's nor its user's revocation.
	if c.ClientGeneration != req.client.Generation {
		return nil, invalid
	}
	current, err := e.userIsCurrent(ctx, c.UserID, c.UserGeneration)
	if err != nil {
		return nil, err
	}
	if !current {
		return nil, invalid
	}

	scope := req.client.LiveScope(c.Scope)
	t, err := e.grantTarget(ctx, req.resources, c.Resources, scope)
	if err != nil {
		return nil, err
	}
	jti := codeJTI(c.FamilyID)
	access, err := e.mint(req, c.UserID, t, jti)
	if err != nil {
		return nil, err
	}
	idToken, err := e.idToken(req, c.UserID, scope, access, c.Nonce, c.SessionID, c.AuthTime)
	if err != nil {
		return nil, err
	}
	out := &issued{access: access, scope: t.scope, ttl: t.ttl, idToken: idToken}
	if e.issuesRefresh(req.client, scope) {
		out.refresh, err = e.startFamily(ctx, req, tokens.Family{
			ID: c.FamilyID, UserID: c.UserID, UserGeneration: c.UserGeneration,
			Scope: scope, Resources: c.Resources, AuthTime: c.AuthTime, SessionID: c.SessionID, LastJTI: jti,
		})
		// ErrFamilyExists: a replay of this code got in first and left a
		// tombstone. This is still the first redemption, so it is answered,
		// but what it issues is already dead: the family never comes to life
		// and the replay denied this jti, the same outcome as issue-then-revoke.
		if err != nil && !errors.Is(err, tokens.ErrFamilyExists) {
			return nil, err
		}
	}
	return out, nil
}

// checkCode holds the bindings of a redeemed code: the client, the exact
// redirect URI, and the PKCE verifier. Every failure is invalid_grant
// (RFC 6749 §5.2).
func (e *Endpoint) checkCode(ctx context.Context, client *clients.Client, c tokens.Code, redirectURI, verifier string) error {
	if c.ClientID != client.ID {
		e.events.Warn(ctx, audit.CodeClientMismatch, audit.ClientID(client.ID), slog.String("issued_to", c.ClientID), audit.UserID(c.UserID))
		return oauthErr(oerrors.ErrInvalidGrant, "invalid authorization code")
	}
	if c.RedirectURI != redirectURI {
		return oauthErr(oerrors.ErrInvalidGrant, "redirect_uri does not match the authorization request")
	}
	if c.CodeChallenge == "" {
		// RFC 9700 §2.1.1: a verifier without a challenge is refused, and a
		// code without one is only good while policy allows that.
		if verifier != "" || e.PKCERequired(client) {
			return oauthErr(oerrors.ErrInvalidGrant, "PKCE verification failed")
		}
		return nil
	}
	if verifier == "" {
		return oauthErr(oerrors.ErrInvalidGrant, "code_verifier is required")
	}
	if !validVerifier(verifier) || subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.CodeChallenge)) != 1 {
		return oauthErr(oerrors.ErrInvalidGrant, "PKCE verification failed")
	}
	return nil
}
