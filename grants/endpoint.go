// Package grants implements the token endpoint, one file per grant. The
// revocation and introspection endpoints (revoke.go, introspect.go) are
// built from the same Endpoint and share its form rules and client
// authentication.
//
// Every token request goes through one pipeline, in this order, in
// Endpoint.ServeHTTP; no grant can skip or reorder a step:
//
//  1. parse the form once (readTokenForm): body only, size-capped, no
//     repeated parameters but resource, grant_type present;
//  2. authenticate the client with its registered method (clientauth.go);
//  3. check the grant type is served and this client may use it;
//  4. validate the scope parameter against what the client holds (the
//     refresh grant narrows against its family in step 5), and the
//     resource parameters (RFC 8707, resources.go);
//  5. the grant's own checks, cheapest first and the costly password hash
//     last, then its one atomic store step;
//  6. mint the access token (Issuer) and write the answer.
//
// A DPoP proof (dpop.go) is verified between steps 4 and 5, so a bad proof
// burns no code and rotates no refresh token.
//
// So a request that fails an early step never reaches a later one: a
// disallowed scope with a wrong password is invalid_scope, and no argon2id
// runs (TestPipelineOrder).
//
// go-oauth2 gives the protocol's vocabulary: its errors package (the RFC
// 6749 §5.2 error codes) and its grant type names. Its request engine
// (server.Server.HandleTokenRequest) is not used: it checks a password
// before the scope, reads credentials from the query string, compares
// secrets in plaintext and answers 401 where RFC 6749 wants 400; its
// manage.Manager rotates refresh tokens and redeems codes in several
// non-atomic store calls. The README lists every part in use.
package grants

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/clients"
	"authserver/dpop"
	"authserver/ratelimit"
	"authserver/resources"
	"authserver/store"
	"authserver/tokens"
	"authserver/users"
)

// Config holds the token endpoint's policies.
type Config struct {
	AccessTTL          time.Duration
	RefreshIdleTTL     time.Duration
	RefreshAbsoluteTTL time.Duration
	// RefreshGrace lets a rotated refresh token be presented again for this
	// long (a lost response retried); 0 turns it off.
	RefreshGrace time.Duration
	CodeTTL      time.Duration
	// IDTokenTTL is the lifetime of ID Tokens; 0 means AccessTTL.
	IDTokenTTL time.Duration
	// RequirePKCEConfidential requires PKCE of confidential clients too.
	RequirePKCEConfidential bool
	// OfflineAccessForRefresh issues refresh tokens only when the
	// offline_access scope was granted; false: to every client allowed
	// the refresh_token grant.
	OfflineAccessForRefresh bool
	MaxBodyBytes            int64

	PasswordLimits  ratelimit.PasswordLimits
	ClientAuthLimit ratelimit.Policy
}

// UserAuthenticator checks a username and password; it returns
// users.ErrInvalidCredentials for any wrong pair, in the same time. Current
// gives the user's current state to redemption and refresh.
type UserAuthenticator interface {
	Authenticate(ctx context.Context, username, password string) (*users.User, error)
	Current(ctx context.Context, id string) (*users.User, error)
}

// Deps are the endpoint's collaborators.
type Deps struct {
	Clients  *clients.Registry
	Users    UserAuthenticator
	Families tokens.RefreshStore
	Codes    tokens.CodeStore
	Deny     tokens.DenyList
	// Revoker owns what dies on reuse, replay and revocation.
	Revoker *tokens.Revoker
	Limiter *ratelimit.Limiter
	Issuer  *Issuer
	// Resources are the protected resources requests may name (RFC
	// 8707); nil knows none.
	Resources *resources.Registry
	// Chain makes refresh-token successors (see tokens.Chain).
	Chain *tokens.Chain
	// Audit receives security events (failed client authentication, reuse
	// detected, families revoked); never a secret or a token.
	Audit *slog.Logger
	// Issued is told the grant type of every token response sent; nil
	// tells no one.
	Issued func(grantType string)

	// Replay keeps client assertion jtis one-time; nil refuses
	// private_key_jwt. ClientKeys fetches jwks_uri key sets; nil refuses
	// clients that registered one.
	Replay     ReplayStore
	ClientKeys KeysFetcher
	// DPoP verifies DPoP proofs (RFC 9449) at /token and /userinfo; nil
	// offers no DPoP (see dpop.go).
	DPoP *dpop.Verifier
}

// Endpoint serves POST /token.
type Endpoint struct {
	cfg      Config
	clients  *clients.Registry
	users    UserAuthenticator
	families tokens.RefreshStore
	codes    tokens.CodeStore
	deny     tokens.DenyList
	revoker  *tokens.Revoker
	limiter  *ratelimit.Limiter
	issuer   *Issuer
	targets  *resources.Registry // the resources a request may name
	chain    *tokens.Chain
	issued   func(grantType string)
	audit    *slog.Logger
	events   *audit.Logger
	grants   map[string]grantFunc
	now      func() time.Time

	// Client assertions (clientassertion.go).
	replay     ReplayStore
	clientKeys clientKeys
	dpop       *dpop.Verifier
}

// grantFunc is one grant's own work (step 5 on): its checks, its store
// step, and what it issues.
type grantFunc func(ctx context.Context, req *tokenRequest) (*issued, error)

// NewEndpoint returns the token endpoint.
func NewEndpoint(cfg Config, d Deps) *Endpoint {
	e := &Endpoint{
		cfg: cfg, clients: d.Clients, users: d.Users, families: d.Families, codes: d.Codes,
		deny: d.Deny, revoker: d.Revoker, limiter: d.Limiter, issuer: d.Issuer, targets: d.Resources, chain: d.Chain, audit: d.Audit, issued: d.Issued, now: time.Now,
		replay: d.Replay, clientKeys: clientKeys{d.ClientKeys}, dpop: d.DPoP,
	}
	if e.audit == nil {
		e.audit = slog.Default()
	}
	if e.revoker == nil || e.chain == nil {
		panic("grants: the token endpoint needs Deps.Revoker and Deps.Chain") // wiring error, caught at start-up
	}
	e.events = audit.New(e.audit)
	e.grants = map[string]grantFunc{
		oauth2.ClientCredentials.String():   e.clientCredentials,
		oauth2.PasswordCredentials.String(): e.password,
		oauth2.AuthorizationCode.String():   e.authorizationCode,
		oauth2.Refreshing.String():          e.refresh,
	}
	return e
}

// tokenRequest is one token request as the pipeline has read and checked
// it so far; each grant reads what it needs from here.
type tokenRequest struct {
	form      url.Values
	grantType string
	// client is the authenticated client (step 2), allowed the grant (3).
	client *clients.Client
	// scope is the validated scope (step 4): for client_credentials and
	// password what is granted; for refresh the narrower scope asked for,
	// or empty for the family's own.
	scope string
	// resources are the request's resource parameters (RFC 8707), well
	// formed (step 4); target is, for client_credentials and password,
	// the access token they ask for.
	resources []string
	target    accessTarget
	// clientIP is the peer's address, which password failures are counted
	// under.
	clientIP string
	now      time.Time
	// jkt is the thumbprint of the request's verified DPoP proof key, ""
	// without one: what is issued is bound to it.
	jkt string
}

// issued is what a grant hands out.
type issued struct {
	access  string
	refresh string
	scope   string // the access token's
	ttl     time.Duration
	idToken string // only when openid was granted
}

// ServeHTTP runs the pipeline of the package doc.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.offerNonce(w)
	req, err := e.parse(w, r)
	if err == nil {
		err = e.authorize(r, req)
	}
	if err == nil {
		err = e.tokenProof(r, req)
	}
	var out *issued
	if err == nil {
		out, err = e.grants[req.grantType](r.Context(), req)
	}
	if err != nil {
		e.writeError(w, r, err)
		return
	}
	e.writeToken(w, req, out)
	e.noteUse(r.Context(), req.client)
	if e.issued != nil {
		e.issued(req.grantType)
	}
}

// parse is step 1.
func (e *Endpoint) parse(w http.ResponseWriter, r *http.Request) (*tokenRequest, error) {
	if err := readTokenForm(w, r, e.cfg.MaxBodyBytes); err != nil {
		return nil, err
	}
	gt := r.PostForm.Get("grant_type")
	if gt == "" {
		return nil, oauthErr(oerrors.ErrInvalidRequest, "grant_type is required")
	}
	return &tokenRequest{form: r.PostForm, grantType: gt, clientIP: ratelimit.ClientIP(r.RemoteAddr), now: e.now()}, nil
}

// authorize is steps 2 to 4: who the client is, whether it may use the
// grant, and whether it may have the scope.
func (e *Endpoint) authorize(r *http.Request, req *tokenRequest) error {
	c, _, err := e.clientFromRequest(r)
	if err != nil {
		return err
	}
	if _, ok := e.grants[req.grantType]; !ok {
		return oauthErr(oerrors.ErrUnsupportedGrantType, "this grant_type is not supported")
	}
	if !c.AllowsGrant(req.grantType) {
		return oauthErr(oerrors.ErrUnauthorizedClient, "this client may not use the %s grant", req.grantType)
	}
	req.client = c
	if req.resources, err = requestedResources(req); err != nil {
		return err
	}
	switch req.grantType {
	case clients.GrantClientCredentials, clients.GrantPassword:
		scope, ok := c.GrantScope(req.form.Get("scope"))
		if !ok {
			return oauthErr(oerrors.ErrInvalidScope, "the requested scope is unknown, malformed, or not allowed for this client")
		}
		req.scope = scope
		if req.target, err = e.target(r.Context(), req.resources, scope); err != nil {
			return err
		}
	case clients.GrantRefreshToken:
		// Narrowing is checked against the family once it is read; here
		// only that the scope is well formed.
		if s := req.form.Get("scope"); s != "" {
			if _, ok := clients.ParseScope(s); !ok {
				return oauthErr(oerrors.ErrInvalidScope, "malformed scope")
			}
			req.scope = s
		}
	}
	// authorization_code: the scope is the code's (RFC 6749 §4.1.3 sends
	// none); it and refresh check their resources against their grant.
	return nil
}

// required returns a form parameter the grant cannot do without.
func required(req *tokenRequest, name string) (string, error) {
	v := req.form.Get(name)
	if v == "" {
		return "", oauthErr(oerrors.ErrInvalidRequest, "%s is required", name)
	}
	return v, nil
}

// mint signs the access token of an answer (step 6) for t (see target).
func (e *Endpoint) mint(req *tokenRequest, userID string, t accessTarget, jti string) (string, error) {
	aud := req.client.Audience
	if t.audience != nil {
		aud = t.audience
	}
	if t.ttl == 0 {
		t.ttl = e.cfg.AccessTTL
	}
	return e.issuer.Mint(Access{
		ClientID: req.client.ID, Audience: aud, UserID: userID,
		Scope: t.scope, JTI: jti, IssuedAt: req.now, TTL: t.ttl, JKT: req.jkt,
	})
}

// idToken mints the ID Token of an answer that grants openid to a user
// (Core §3.1.3.3, §12.2): every grant that signs a user in or refreshes
// one calls it, so a family's refreshes carry one exactly when its first
// answer did. Empty when the scope has no openid. sid is the sign-in
// session's, "" when the user signed in without one (the password grant).
func (e *Endpoint) idToken(req *tokenRequest, userID, scope, access, nonce, sid string, authTime time.Time) (string, error) {
	if !grantsOpenID(scope) {
		return "", nil
	}
	ttl := e.cfg.IDTokenTTL
	if ttl == 0 {
		ttl = e.cfg.AccessTTL
	}
	return e.issuer.MintIDToken(IDToken{
		ClientID: req.client.ID, UserID: userID, Subject: e.issuer.Subject(req.client, userID), Alg: req.client.IDTokenSigningAlg(),
		AuthTime: authTime, Nonce: nonce, SessionID: sid, AccessToken: access, IssuedAt: req.now, TTL: ttl,
	})
}

// tokenAnswer is a successful token response (RFC 6749 §5.1).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

func (e *Endpoint) writeToken(w http.ResponseWriter, req *tokenRequest, out *issued) {
	if out.ttl == 0 {
		out.ttl = e.cfg.AccessTTL // a grant that sets none mints with the server's
	}
	writeJSON(w, http.StatusOK, tokenAnswer{
		AccessToken: out.access, TokenType: tokenType(req.jkt), ExpiresIn: int64(out.ttl / time.Second),
		RefreshToken: out.refresh, Scope: out.scope, IDToken: out.idToken,
	})
}

// writeError answers with an RFC 6749 §5.2 error. A store outage is 503
// temporarily_unavailable with Retry-After; anything else but an *Error is
// a fault on our side: logged, and shown as server_error without details.
func (e *Endpoint) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *Error
	switch {
	case errors.As(err, &oe):
	case store.IsUnavailable(err):
		// An outage, not a bug: the client may retry. RFC 6749 §5.2 does
		// not list temporarily_unavailable, but it is the registered code.
		e.audit.WarnContext(r.Context(), "token endpoint: store unavailable", "path", r.URL.Path, "err", err)
		oe = &Error{Code: oerrors.ErrTemporarilyUnavailable, Description: "the service is temporarily unavailable; retry after the time in Retry-After",
			Status: http.StatusServiceUnavailable, RetryAfter: int64(store.RetryAfter / time.Second)}
	default:
		e.audit.ErrorContext(r.Context(), "token endpoint failure", "path", r.URL.Path, "err", err)
		oe = &Error{Code: oerrors.ErrServerError, Description: "internal error"}
	}
	status := oe.Status
	if status == 0 {
		status = statusFor(oe.Code)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(oe.RetryAfter, 10))
	}
	if oe.Code == oerrors.ErrInvalidClient && status == http.StatusUnauthorized {
		// RFC 6749 §5.2: a 401 names the scheme the client should use.
		w.Header().Set("WWW-Authenticate", `Basic realm="token", charset="UTF-8"`)
	}
	body := map[string]string{"error": oe.Code.Error()}
	if oe.Description != "" {
		body["error_description"] = ErrorDescription(oe.Description)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// startFamily begins a refresh-token family for a new sign-in and returns
// its first token (also with the store's error, for the caller to judge).
func (e *Endpoint) startFamily(ctx context.Context, req *tokenRequest, f tokens.Family) (string, error) {
	exp := req.now.Add(e.cfg.RefreshAbsoluteTTL)
	f.ClientID, f.ClientGeneration, f.JKT = req.client.ID, req.client.Generation, familyJKT(req)
	f.CreatedAt, f.ExpiresAt, f.IdleExpiresAt = req.now, exp, minTime(req.now.Add(e.cfg.RefreshIdleTTL), exp)
	token, hash := tokens.NewRefreshToken(f.ID)
	return token, e.families.CreateFamily(ctx, f, hash)
}

// userIsCurrent reports whether the user still exists, is enabled and is
// in the generation a code or family was made under.
func (e *Endpoint) userIsCurrent(ctx context.Context, userID string, generation int64) (bool, error) {
	u, err := e.users.Current(ctx, userID)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return !u.Disabled && u.Generation == generation, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
