package grants

import (
	"context"
	"errors"
	"log/slog"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/ratelimit"
	"authserver/tokens"
	"authserver/users"
)

// password (RFC 6749 §4.3): an access token for the user, and a new
// refresh-token family when the client may refresh. By now the client is
// authenticated and allowed the grant and the scope, so a client that
// cannot authenticate learns nothing about the password, and the password
// hash, the costliest step, runs last.
func (e *Endpoint) password(ctx context.Context, req *tokenRequest) (*issued, error) {
	username, err := required(req, "username")
	if err != nil {
		return nil, err
	}
	password, err := required(req, "password")
	if err != nil {
		return nil, err
	}
	u, err := e.checkPassword(ctx, req, username, password)
	if err != nil {
		return nil, err
	}
	jti := tokens.NewJTI()
	access, err := e.mint(req, u.ID, req.target, jti)
	if err != nil {
		return nil, err
	}
	// The user signed in just now, with this request; an ID Token here
	// keeps one rule with the refreshes of its family (endpoint.idToken).
	idToken, err := e.idToken(req, u.ID, req.scope, access, "", "", req.now)
	if err != nil {
		return nil, err
	}
	out := &issued{access: access, scope: req.target.scope, ttl: req.target.ttl, idToken: idToken}
	if e.issuesRefresh(req.client, req.scope) {
		out.refresh, err = e.startFamily(ctx, req, tokens.Family{
			ID: tokens.NewFamilyID(), UserID: u.ID, UserGeneration: u.Generation,
			Scope: req.scope, Resources: req.resources, AuthTime: req.now, LastJTI: jti,
		})
		if err != nil { // a fresh random id: any error is the store's
			return nil, err
		}
	}
	return out, nil
}

// checkPassword checks the user's password under the failure limits
// (ratelimit.PasswordLimits.Counters has the rule); the answer is the same
// for an unknown user and a wrong password.
func (e *Endpoint) checkPassword(ctx context.Context, req *tokenRequest, username, password string) (*users.User, error) {
	var u *users.User
	err := e.limiter.Guard(ctx, e.cfg.PasswordLimits.Counters(ratelimit.PasswordAttempt{
		Username: username, ClientIP: req.clientIP, ClientID: req.client.ID,
	}), func() (bool, error) {
		var err error
		u, err = e.users.Authenticate(ctx, username, password)
		if errors.Is(err, users.ErrInvalidCredentials) {
			return false, nil
		}
		return err == nil, err
	})
	var l *ratelimit.LimitedError
	if errors.As(err, &l) {
		e.events.Warn(ctx, audit.Lockout, audit.ClientID(req.client.ID), audit.Username(username), slog.String("limit", l.Limit))
		return nil, limited(oerrors.ErrInvalidGrant, l)
	}
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid username or password")
	}
	return u, nil
}
