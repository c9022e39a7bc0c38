package grants

import (
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
	// dpop puts the error on the DPoP challenge (RFC 9449 §7.1).
	dpop bool
}

func (b *bearerError) Error() string { return "bearer: " + b.code + ": " + b.desc }

var (
	errNoToken = &bearerError{status: http.StatusUnauthorized, code: "", desc: "a bearer access token is required (Authorization: Bearer)"}
	// One answer for every dead token, so a caller learns nothing of why.
	errDeadToken     = &bearerError{status: http.StatusUnauthorized, code: "invalid_token", desc: "the access token is invalid, expired or revoked"}
	errNoOpenIDScope = &bearerError{status: http.StatusForbidden, code: "insufficient_scope", desc: "the access token lacks the openid scope"}
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
	e.offerNonce(w)
	token, scheme, err := e.bearerToken(w, r)
	var u *users.User
	var scopes []string
	var c *clients.Client
	if err == nil {
		u, scopes, c, err = e.userAccess(r, token, scheme)
	}
	if err == nil && !slices.Contains(scopes, ScopeOpenID) {
		err = errNoOpenIDScope
	}
	if err != nil {
		e.writeBearerError(w, r, onScheme(err, scheme))
		return
	}
	claims := u.Claims(scopes)
	claims["sub"] = e.issuer.Subject(c, u.ID) // as the client's ID Tokens say
	writeJSON(w, http.StatusOK, claims)
}

// bearerToken reads the one access token of the request and the scheme it
// came with ("Bearer", "DPoP", or "" in a form body). A token in the
// query string is refused (RFC 6750 §2.3 is a MAY we do not take: URLs end
// up in logs), and so is a request carrying more than one (§2).
func (e *Endpoint) bearerToken(w http.ResponseWriter, r *http.Request) (token, scheme string, err error) {
	if r.URL.Query().Has("access_token") {
		return "", "", &bearerError{status: http.StatusBadRequest, code: "invalid_request", desc: "send the access token in the Authorization header, not the query string"}
	}
	scheme, header, hasHeader := e.authHeader(r)
	if r.Method != http.MethodPost || !isForm(r) {
		if !hasHeader {
			return "", "", errNoToken
		}
		return header, scheme, nil
	}
	if err := readTokenForm(w, r, e.cfg.MaxBodyBytes); err != nil {
		return "", "", &bearerError{status: max(err.Status, http.StatusBadRequest), code: "invalid_request", desc: err.Description}
	}
	body, hasBody := r.PostForm["access_token"]
	switch {
	case hasHeader && hasBody:
		return "", "", &bearerError{status: http.StatusBadRequest, code: "invalid_request", desc: "send the access token once: in the header or in the body"}
	case hasBody:
		return body[0], "", nil
	case hasHeader:
		return header, scheme, nil
	}
	return "", "", errNoToken
}

// authHeader returns the token of an "Authorization: Bearer" header, or of
// a "DPoP" one when DPoP is offered; ok is false when there is none or
// another scheme is used (which is no token at all to this endpoint).
func (e *Endpoint) authHeader(r *http.Request) (scheme, token string, ok bool) {
	scheme, token, _ = strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case strings.EqualFold(scheme, schemeBearer):
		return schemeBearer, strings.TrimSpace(token), true
	case strings.EqualFold(scheme, schemeDPoP) && e.dpop != nil:
		return schemeDPoP, strings.TrimSpace(token), true
	}
	return "", "", false
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
func (e *Endpoint) userAccess(r *http.Request, token, scheme string) (*users.User, []string, *clients.Client, error) {
	ctx := r.Context()
	claims, denied, err := e.checkAccess(ctx, token)
	switch {
	case err != nil:
		return nil, nil, nil, err
	case claims == nil || denied || claims.Subject == "" || claims.Subject == claims.ClientID:
		return nil, nil, nil, errDeadToken
	}
	if err := e.userInfoProof(r, scheme, token, claims); err != nil {
		return nil, nil, nil, err
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
	desc := ErrorDescription(be.desc) // safe inside a quoted-string
	body := map[string]string{"error_description": desc}
	withError := ""
	if be.code != "" {
		withError = `, error="` + be.code + `", error_description="` + desc + `"`
		body["error"] = be.code
	}
	if be.code == errNoOpenIDScope.code {
		withError += `, scope="` + ScopeOpenID + `"`
	}
	bearer := `Bearer realm="` + userInfoRealm + `"`
	if !be.dpop {
		bearer += withError
	}
	w.Header().Set("WWW-Authenticate", bearer)
	if e.dpop != nil {
		// RFC 9449 §7.1: both schemes are offered; the error goes on the
		// one the request used.
		challenge := dpopChallenge(e.dpop)
		if be.dpop {
			challenge += withError
		}
		w.Header().Add("WWW-Authenticate", challenge)
	}
	writeJSON(w, be.status, body)
}
