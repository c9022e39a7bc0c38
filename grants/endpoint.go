// Package grants implements the token endpoint: one file per grant, on top
// of go-oauth2's server through its extension points. The revocation and
// introspection endpoints (revoke.go, introspect.go) are built from the same
// Endpoint and share its form rules and client authentication.
//
// Every request goes through one pipeline that no grant can skip:
//
//  1. readTokenForm: body only, size-capped, no repeated parameters;
//  2. ClientInfoHandler (authenticateRequest): the client proves who it is
//     with its registered method, then must be allowed the grant;
//  3. the scope is checked against what the client (or, on refresh, the
//     token) holds;
//  4. the grant's own checks and its single atomic store step;
//  5. the access token is minted (Issuer, an oauth2.AccessGenerate).
//
// Where go-oauth2's own behaviour is unsafe it is replaced, and the line
// that replaces it says why.
package grants

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"

	"authserver/audit"
	"authserver/clients"
	"authserver/ratelimit"
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
	// RequirePKCEConfidential requires PKCE of confidential clients too.
	RequirePKCEConfidential bool
	MaxBodyBytes            int64

	PasswordLimits  ratelimit.PasswordLimits
	ClientAuthLimit ratelimit.Policy
}

// UserAuthenticator checks a username and password; it returns
// users.ErrInvalidCredentials for any wrong pair, in the same time.
type UserAuthenticator interface {
	Authenticate(ctx context.Context, username, password string) (*users.User, error)
}

// Deps are the endpoint's collaborators.
type Deps struct {
	Clients  *clients.Registry
	Users    UserAuthenticator
	Families tokens.RefreshStore
	Codes    tokens.CodeStore
	Deny     tokens.DenyList
	Limiter  *ratelimit.Limiter
	Issuer   *Issuer
	// Audit receives security events (failed client authentication, reuse
	// detected, families revoked); never a secret or a token.
	Audit *slog.Logger
}

// Endpoint serves POST /token.
type Endpoint struct {
	cfg      Config
	clients  *clients.Registry
	users    UserAuthenticator
	families tokens.RefreshStore
	codes    tokens.CodeStore
	deny     tokens.DenyList
	limiter  *ratelimit.Limiter
	issuer   *Issuer
	audit    *slog.Logger
	events   *audit.Logger
	srv      *server.Server
	now      func() time.Time
}

// NewEndpoint wires go-oauth2's server with our handlers.
func NewEndpoint(cfg Config, d Deps) *Endpoint {
	e := &Endpoint{
		cfg: cfg, clients: d.Clients, users: d.Users, families: d.Families, codes: d.Codes,
		deny: d.Deny, limiter: d.Limiter, issuer: d.Issuer, audit: d.Audit, now: time.Now,
	}
	if e.audit == nil {
		e.audit = slog.Default()
	}
	e.events = audit.New(e.audit)
	scfg := server.NewConfig()
	scfg.AllowedCodeChallengeMethods = []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256} // plain is the library default; RFC 9700 §2.1.1 wants S256
	// Not ForcePKCE: it answers a missing code_verifier with invalid_request
	// before the code is consumed; the authorization_code grant burns the
	// code first and then answers invalid_grant, and applies the PKCE policy
	// per client (RequirePKCEConfidential).
	scfg.ForcePKCE = false
	srv := server.NewServer(scfg, &manager{e: e})
	srv.ClientInfoHandler = e.authenticateRequest // replaces ClientFormHandler (reads the query string) and plaintext secret compares
	srv.ClientScopeHandler = e.checkScope
	srv.PasswordAuthorizationHandler = e.checkPassword
	srv.InternalErrorHandler = internalError(e.audit)
	srv.ResponseErrorHandler = responseError // RFC 6749 §5.2 statuses and WWW-Authenticate
	e.srv = srv
	return e
}

// tokenRequest carries what the pipeline learnt about one request to the
// hooks that go-oauth2 calls later with only a context.
type tokenRequest struct {
	client *clients.Client
	now    time.Time
	// clientIP is the peer's address, which password failures are counted
	// under.
	clientIP string
}

type requestKey struct{}

func requestFrom(ctx context.Context) *tokenRequest {
	st, _ := ctx.Value(requestKey{}).(*tokenRequest)
	return st
}

// ServeHTTP handles one token request.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := readTokenForm(w, r, e.cfg.MaxBodyBytes); err != nil {
		e.writeError(w, err)
		return
	}
	if r.PostForm.Get("grant_type") == "" {
		e.writeError(w, oauthErr(oerrors.ErrInvalidRequest, "grant_type is required"))
		return
	}
	st := &tokenRequest{now: e.now(), clientIP: ratelimit.ClientIP(r.RemoteAddr)}
	r = r.WithContext(context.WithValue(r.Context(), requestKey{}, st))
	_ = e.srv.HandleTokenRequest(w, r) // it has written the answer, error or not
}

func (e *Endpoint) writeError(w http.ResponseWriter, err error) {
	data, status, header := e.srv.GetErrorData(err)
	for k := range header {
		w.Header().Set(k, header.Get(k))
	}
	writeJSON(w, status, data)
}

// authenticateRequest is go-oauth2's ClientInfoHandler, which runs before
// any grant logic: authenticate the client, then check the grant is one we
// serve and one this client may use.
func (e *Endpoint) authenticateRequest(r *http.Request) (string, string, error) {
	c, _, err := e.clientFromRequest(r)
	if err != nil {
		return "", "", err
	}
	gt := r.PostForm.Get("grant_type")
	if !slices.Contains(clients.KnownGrantTypes, gt) {
		return "", "", oauthErr(oerrors.ErrUnsupportedGrantType, "grant_type %q is not supported", gt)
	}
	if !c.AllowsGrant(gt) {
		return "", "", oauthErr(oerrors.ErrUnauthorizedClient, "this client may not use the %s grant", gt)
	}
	requestFrom(r.Context()).client = c
	// The secret was verified above; the manager never compares it again.
	return c.ID, "", nil
}

// checkScope is go-oauth2's ClientScopeHandler (password and
// client_credentials): the scope must be among the client's; none asked
// means all of them.
func (e *Endpoint) checkScope(tgr *oauth2.TokenGenerateRequest) (bool, error) {
	st := requestFrom(tgr.Request.Context())
	scope, ok := st.client.GrantScope(tgr.Scope)
	if !ok {
		return false, oauthErr(oerrors.ErrInvalidScope, "the requested scope is unknown, malformed, or not allowed for this client")
	}
	tgr.Scope = scope
	return true, nil
}

// issueAccess mints the access token of a response.
func (e *Endpoint) issueAccess(ctx context.Context, st *tokenRequest, userID, scope, jti string) (*models.Token, error) {
	ti := newTokenInfo(st.client, userID, scope, jti, st.now, e.cfg.AccessTTL)
	access, _, err := e.issuer.Token(ctx, &oauth2.GenerateBasic{Client: clientInfo{st.client}, UserID: userID, CreateAt: st.now, TokenInfo: ti}, false)
	if err != nil {
		return nil, err
	}
	ti.SetAccess(access)
	return ti, nil
}

// startFamily begins a refresh-token family for a new sign-in and returns
// its first token (also with the store's error, for the caller to judge).
func (e *Endpoint) startFamily(ctx context.Context, st *tokenRequest, familyID, userID, scope, jti string, authTime time.Time) (string, error) {
	exp := st.now.Add(e.cfg.RefreshAbsoluteTTL)
	f := tokens.Family{
		ID: familyID, ClientID: st.client.ID, UserID: userID, Scope: scope, AuthTime: authTime,
		CreatedAt: st.now, ExpiresAt: exp, IdleExpiresAt: minTime(st.now.Add(e.cfg.RefreshIdleTTL), exp), LastJTI: jti,
	}
	token, hash := tokens.NewRefreshToken(familyID)
	return token, e.families.CreateFamily(ctx, f, hash)
}

// revokeFamily revokes a family and denies its newest access token, which
// may still be in the hands of whoever caused the revocation. The
// tombstone outlives any code that could still start the family.
func (e *Endpoint) revokeFamily(ctx context.Context, id, reason string) error {
	f, err := tokens.RevokeFamily(ctx, e.families, e.deny, id, e.cfg.CodeTTL+e.cfg.AccessTTL, e.cfg.AccessTTL, e.now())
	if errors.Is(err, tokens.ErrFamilyNotFound) {
		return nil // nothing was live; the tombstone blocks a late start
	}
	return e.familyRevoked(ctx, f, reason, err)
}

// familyRevoked logs a revocation that has happened in the store (and the
// error of denying its access token, if any).
func (e *Endpoint) familyRevoked(ctx context.Context, f tokens.Family, reason string, err error) error {
	if f.ID != "" {
		log := e.events.Warn // reuse or replay: perhaps a stolen token
		if reason == reasonRevokedByClient {
			log = e.events.Info
		}
		log(ctx, audit.FamilyRevoked, audit.FamilyID(f.ID), audit.ClientID(f.ClientID), audit.UserID(f.UserID), audit.Reason(reason))
	}
	if err != nil {
		e.audit.ErrorContext(ctx, "revoke refresh token family", "family_id", f.ID, "err", err)
	}
	return err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
