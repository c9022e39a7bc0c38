package grants

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"authserver/clients"
	"authserver/users"
)

// ScopeOpenID is the scope that makes a request an OpenID Connect one; the
// UserInfo endpoint answers only tokens that carry it.
const ScopeOpenID = "openid"

// userInfoRealm names the protected resource in WWW-Authenticate.
const userInfoRealm = "userinfo"

// bearerError is a refusal of a protected resource request (RFC 6750 §3).
// An empty code is a request without any token: then no error is named.
type bearerError struct {
	status int
	code   string
	desc   string
}

func (b *bearerError) Error() string { return "bearer: " + b.code + ": " + b.desc }

var (
	errNoToken = &bearerError{http.StatusUnauthorized, "", "a bearer access token is required (Authorization: Bearer)"}
	// One answer for every dead token, so a caller learns nothing of why.
	errDeadToken     = &bearerError{http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked"}
	errNoOpenIDScope = &bearerError{http.StatusForbidden, "insufficient_scope", "the access token lacks the openid scope"}
)

// UserInfoHandler serves GET and POST /userinfo (OpenID Connect Core 1.0
// §5.3): the claims about the token's user that its scopes release
// (users.User.Claims). The token comes in the Authorization header, or for
// POST as access_token in a form body (RFC 6750 §2.2); never in the query.
func (e *Endpoint) UserInfoHandler() http.Handler {
	if e.deny == nil {
		panic("grants: userinfo needs Deps.Deny") // wiring error, caught at start-up
	}
	return http.HandlerFunc(e.serveUserInfo)
}

func (e *Endpoint) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	token, err := e.bearerToken(w, r)
	var u *users.User
	var scopes []string
	var c *clients.Client
	if err == nil {
		u, scopes, c, err = e.userAccess(r.Context(), token)
	}
	if err == nil && !slices.Contains(scopes, ScopeOpenID) {
		err = errNoOpenIDScope
	}
	if err != nil {
		e.writeBearerError(w, r, err)
		return
	}
	claims := u.Claims(scopes)
	claims["sub"] = e.issuer.Subject(c, u.ID) // as the client's ID Tokens say
	writeJSON(w, http.StatusOK, claims)
}

// bearerToken reads the one access token of the request. A token in the
// query string is refused (RFC 6750 §2.3 is a MAY we do not take: URLs end
// up in logs), and so is a request carrying more than one (§2).
func (e *Endpoint) bearerToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", &bearerError{http.StatusBadRequest, "invalid_request", "send the access token in the Authorization header, not the query string"}
	}
	header, hasHeader := bearerHeader(r)
	if r.Method != http.MethodPost || !isForm(r) {
		if !hasHeader {
			return "", errNoToken
		}
		return header, nil
	}
	if err := readTokenForm(w, r, e.cfg.MaxBodyBytes); err != nil {
		return "", &bearerError{max(err.Status, http.StatusBadRequest), "invalid_request", err.Description}
	}
	body, hasBody := r.PostForm["access_token"]
	switch {
	case hasHeader && hasBody:
		return "", &bearerError{http.StatusBadRequest, "invalid_request", "send the access token once: in the header or in the body"}
	case hasBody:
		return body[0], nil
	case hasHeader:
		return header, nil
	}
	return "", errNoToken
}

// bearerHeader returns the token of an "Authorization: Bearer" header; ok
// is false when there is none or another scheme is used (which is no token
// at all to this endpoint).
func bearerHeader(r *http.Request) (token string, ok bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// userAccess checks a user's access token as introspection does
// (checkAccess), and then that its user still exists, is enabled and has
// not been revoked since it was issued: a token without a refresh family
// is not on the deny list, so the user's generation is what ends it. A
// client's own token (client_credentials: sub is the client) has no user.
// The token's client is returned too: it decides the sub of the answer.
func (e *Endpoint) userAccess(ctx context.Context, token string) (*users.User, []string, *clients.Client, error) {
	claims, denied, err := e.checkAccess(ctx, token)
	switch {
	case err != nil:
		return nil, nil, nil, err
	case claims == nil || denied || claims.Subject == "" || claims.Subject == claims.ClientID:
		return nil, nil, nil, errDeadToken
	}
	u, err := e.users.Current(ctx, claims.Subject)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return nil, nil, nil, errDeadToken
	case err != nil:
		return nil, nil, nil, err
	case u.Disabled || u.IssuedInEarlierGeneration(claims.IssuedAt.Time):
		return nil, nil, nil, errDeadToken
	}
	scopes, ok := clients.ParseScope(claims.Scope)
	if !ok {
		return nil, nil, nil, errDeadToken
	}
	// The client names the sub its ID Tokens carry; a client gone or
	// disabled since has no UserInfo either.
	c, err := e.clients.Lookup(ctx, claims.ClientID)
	switch {
	case errors.Is(err, clients.ErrAuthenticationFailed):
		return nil, nil, nil, errDeadToken
	case err != nil:
		return nil, nil, nil, err
	}
	return u, scopes, c, nil
}

// writeBearerError answers a refusal with WWW-Authenticate (RFC 6750 §3)
// and a JSON body; a store outage or a fault goes to writeError (503 with
// Retry-After, or 500).
func (e *Endpoint) writeBearerError(w http.ResponseWriter, r *http.Request, err error) {
	var be *bearerError
	if !errors.As(err, &be) {
		e.writeError(w, r, err)
		return
	}
	challenge := `Bearer realm="` + userInfoRealm + `"`
	desc := ErrorDescription(be.desc) // safe inside a quoted-string
	body := map[string]string{"error_description": desc}
	if be.code != "" {
		challenge += `, error="` + be.code + `", error_description="` + desc + `"`
		body["error"] = be.code
	}
	if be == errNoOpenIDScope {
		challenge += `, scope="` + ScopeOpenID + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSON(w, be.status, body)
}
