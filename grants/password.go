package grants

import (
	"context"
	"errors"
	"log/slog"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/clients"
	"authserver/ratelimit"
	"authserver/tokens"
	"authserver/users"
)

// checkPassword is go-oauth2's PasswordAuthorizationHandler. go-oauth2
// calls it after ClientInfoHandler, so by now the client is authenticated
// and allowed the password grant: a client that cannot authenticate learns
// nothing about the password. Failures are limited per username and per
// client, and the answer is the same for an unknown user and a wrong
// password (ratelimit.PasswordLimits.Counters has the rule).
func (e *Endpoint) checkPassword(ctx context.Context, _ string, username, password string) (string, error) {
	st := requestFrom(ctx)
	var u *users.User
	err := e.limiter.Guard(ctx, e.cfg.PasswordLimits.Counters(ratelimit.PasswordAttempt{
		Username: username, ClientIP: st.clientIP, ClientID: st.client.ID,
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
		e.events.Warn(ctx, audit.Lockout, audit.ClientID(st.client.ID), audit.Username(username), slog.String("limit", l.Limit))
		return "", limited(oerrors.ErrInvalidGrant, l)
	}
	if err != nil {
		return "", err
	}
	if u == nil {
		return "", oauthErr(oerrors.ErrInvalidGrant, "invalid username or password")
	}
	return u.ID, nil
}

// password (RFC 6749 §4.3): an access token for the user, and a new
// refresh-token family when the client may refresh.
func (e *Endpoint) password(ctx context.Context, st *tokenRequest, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	jti := tokens.NewJTI()
	ti, err := e.issueAccess(ctx, st, tgr.UserID, tgr.Scope, jti)
	if err != nil {
		return nil, err
	}
	if st.client.AllowsGrant(clients.GrantRefreshToken) {
		rt, err := e.startFamily(ctx, st, tokens.NewFamilyID(), tgr.UserID, tgr.Scope, jti, st.now)
		if err != nil { // a fresh random id: any error is the store's
			return nil, err
		}
		ti.SetRefresh(rt)
	}
	return ti, nil
}
