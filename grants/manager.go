package grants

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/models"

	"authserver/clients"
)

// manager is our oauth2.Manager. go-oauth2's own manage.Manager compares
// secrets in plaintext, rotates refresh tokens in three separate store
// calls, redeems codes with get-then-delete and writes every access token
// to the store; each grant here does its work in one atomic store step and
// stores no access token.
type manager struct{ e *Endpoint }

func (m *manager) GetClient(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	c, err := m.e.clients.Lookup(ctx, id)
	if err != nil {
		return nil, oerrors.ErrInvalidClient
	}
	return clientInfo{c}, nil
}

func (m *manager) GenerateAccessToken(ctx context.Context, gt oauth2.GrantType, tgr *oauth2.TokenGenerateRequest) (_ oauth2.TokenInfo, err error) {
	defer func() { err = inRequest(ctx, err) }()
	st := requestFrom(ctx)
	switch gt {
	case oauth2.ClientCredentials:
		return m.e.clientCredentials(ctx, st, tgr)
	case oauth2.PasswordCredentials:
		return m.e.password(ctx, st, tgr)
	case oauth2.AuthorizationCode:
		return m.e.authorizationCode(ctx, st, tgr)
	}
	return nil, oerrors.ErrUnsupportedGrantType
}

func (m *manager) RefreshAccessToken(ctx context.Context, tgr *oauth2.TokenGenerateRequest) (_ oauth2.TokenInfo, err error) {
	defer func() { err = inRequest(ctx, err) }()
	return m.e.refresh(ctx, requestFrom(ctx), tgr)
}

// The rest of oauth2.Manager is never reached: /authorize, revocation and
// introspection are served by our own handlers, and access tokens are
// self-contained JWTs that are not stored.

func (m *manager) GenerateAuthToken(context.Context, oauth2.ResponseType, *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrUnsupportedResponseType
}
func (m *manager) RemoveAccessToken(context.Context, string) error  { return oerrors.ErrInvalidRequest }
func (m *manager) RemoveRefreshToken(context.Context, string) error { return oerrors.ErrInvalidRequest }
func (m *manager) LoadAccessToken(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAccessToken
}
func (m *manager) LoadRefreshToken(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidRefreshToken
}

// clientInfo shows a registered client to go-oauth2. Its secret is never
// exposed: authentication happened before go-oauth2 saw the request.
type clientInfo struct{ c *clients.Client }

func (ci clientInfo) GetID() string      { return ci.c.ID }
func (ci clientInfo) GetSecret() string  { return "" }
func (ci clientInfo) GetDomain() string  { return "" }
func (ci clientInfo) IsPublic() bool     { return ci.c.Public }
func (ci clientInfo) GetUserID() string  { return "" }
func (ci clientInfo) Audience() []string { return ci.c.Audience }

const jtiKey = "jti"

func newTokenInfo(c *clients.Client, userID, scope, jti string, now time.Time, ttl time.Duration) *models.Token {
	ti := models.NewToken()
	ti.SetClientID(c.ID)
	ti.SetUserID(userID)
	ti.SetScope(scope)
	ti.SetAccessCreateAt(now)
	ti.SetAccessExpiresIn(ttl)
	ti.Extension.Set(jtiKey, jti)
	return ti
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
