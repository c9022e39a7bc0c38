package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"authserver/backchannel"
	"authserver/clients"
	"authserver/fetcher"
	"authserver/grants"
	"authserver/keys"
	"authserver/ratelimit"
	"authserver/resources"
	"authserver/server"
	"authserver/sessions"
	"authserver/store/embedded"
	"authserver/tokens"
	"authserver/users"
)

// stack is the public engine with /authorize and /token over a real
// embedded store, served on a loopback port that is also the issuer.
type stack struct {
	store   *embedded.Store
	clients *clients.Registry
	users   *users.Service
	token   *grants.Endpoint
	revoker *tokens.Revoker
	// resources are the protected resources requests may name.
	resources *resources.Registry
	issuer    string
	srv       *httptest.Server
}

type stackConfig struct {
	issuer    string // defaults to the test server's URL
	authorize server.AuthorizeConfig
	grants    grants.Config
	// sessions, when set, wraps the session store the pages use.
	sessions func(sessions.Store) sessions.Store
}

func newStack(t *testing.T, tweak ...func(*stackConfig)) *stack {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, []byte("test key encryption secret"), "ES256", keys.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)

	cfg := stackConfig{
		issuer: srv.URL,
		authorize: server.AuthorizeConfig{
			SessionTTL: time.Hour,
			PasswordLimits: ratelimit.PasswordLimits{
				PerUser:           ratelimit.Policy{Max: 3, Window: time.Minute},
				PerUserUntrusted:  ratelimit.Policy{Max: 8, Window: time.Minute},
				PerIP:             ratelimit.Policy{Max: 10, Window: time.Minute},
				InFlightPerSource: 2,
			},
			DeviceCookieKey: []byte("device cookie test key, 32 bytes"),
			DeviceCookieTTL: 24 * time.Hour,
		},
		grants: grants.Config{
			AccessTTL: 15 * time.Minute, RefreshIdleTTL: time.Hour, RefreshAbsoluteTTL: 2 * time.Hour,
			CodeTTL: time.Minute, RequirePKCEConfidential: true, MaxBodyBytes: 64 << 10,
		},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	cfg.authorize.Issuer = cfg.issuer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &stack{
		store:   st,
		clients: clients.NewRegistry(st, []string{"profile", "email", "offline_access", "invoices:read"}),
		users:   users.NewService(st, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1}),
		issuer:  cfg.issuer,
		srv:     srv,
		// A zero TTL: lookups always read the store.
		resources: resources.NewRegistry(st, nil, 0, log),
	}
	s.revoker = tokens.NewRevoker(st, s.users, s.clients, cfg.grants.CodeTTL, cfg.grants.AccessTTL, log)
	issuer := grants.NewIssuer(cfg.issuer, []string{"https://api.test"}, km)
	s.token = grants.NewEndpoint(cfg.grants, grants.Deps{
		Clients: s.clients, Users: s.users, Families: st, Codes: st, Deny: st, Revoker: s.revoker, Chain: testChain,
		Limiter: ratelimit.New(st), Issuer: issuer, Audit: log, Resources: s.resources,
	})
	var sess sessions.Store = st
	if cfg.sessions != nil {
		sess = cfg.sessions(st)
	}
	// Back-channel logout to the tests' loopback receivers.
	loopback, err := fetcher.New(fetcher.Config{AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	logouts := backchannel.New(backchannel.Config{Fetcher: loopback, Backoff: 10 * time.Millisecond}, issuer, s.clients, st, log)
	logouts.Start()
	t.Cleanup(logouts.Close)
	s.revoker.OnUserRevoked(logouts.UserSignedOut)
	authz := server.NewAuthorize(cfg.authorize, server.AuthorizeDeps{
		Clients: s.clients, Users: s.users, Sessions: sess, Limiter: ratelimit.New(st), Codes: s.token, Log: log,
		SignedOut: logouts.SessionEnded,
	})
	handler = server.NewPublic(server.Options{
		Issuer: cfg.issuer, Scopes: []string{"openid", "profile"}, Token: s.token, Authorize: authz, JWKS: km.JWKS, Log: log,
		EndSession: server.NewEndSession(authz, issuer), BackchannelLogout: true,
	})
	return s
}

const (
	appRedirect  = "https://app.test/callback"
	loopRedirect = "http://127.0.0.1/cb"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func challengeOf(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// app registers a confidential client allowed the code and refresh grants.
func (s *stack) app(t *testing.T, reg clients.Registration) (id, secret string) {
	t.Helper()
	if reg.Name == "" {
		reg.Name = "Invoice Viewer"
	}
	if reg.GrantTypes == nil {
		reg.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if reg.Scopes == nil {
		reg.Scopes = []string{"profile", "invoices:read"}
	}
	if reg.RedirectURIs == nil {
		reg.RedirectURIs = []string{appRedirect, loopRedirect, "com.example.app:/oauth"}
	}
	c, secret, err := s.clients.Create(context.Background(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

func (s *stack) user(t *testing.T, name, password string) *users.User {
	t.Helper()
	u, err := s.users.Create(context.Background(), name, password)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authURL is an authorization request for the client with PKCE, state and
// the app's redirect URI, changed by the extra pairs ("" deletes).
func (s *stack) authURL(clientID string, extra ...string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {appRedirect},
		"scope": {"profile"}, "state": {"st-123"},
		"code_challenge": {challengeOf(testVerifier)}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return s.srv.URL + "/authorize?" + q.Encode()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step can be inspected.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer.
type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location(t *testing.T) *url.URL {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d: %s", p.status, p.body)
	}
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var (
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	actionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// form returns the page's form target (absolute) and CSRF token.
func (p page) form(t *testing.T, base string) (string, string) {
	t.Helper()
	a, c := actionRe.FindStringSubmatch(p.body), csrfRe.FindStringSubmatch(p.body)
	if a == nil || c == nil {
		t.Fatalf("no form on the page (%d): %s", p.status, p.body)
	}
	return base + html.UnescapeString(a[1]), html.UnescapeString(c[1])
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		b.t.Fatalf("server error %d: %s", resp.StatusCode, raw)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// follow follows redirects on our own server and stops at the first
// answer that is not one (or a redirect elsewhere, which it returns).
func (b *browser) follow(p page, base string) page {
	b.t.Helper()
	for p.status == http.StatusFound || p.status == http.StatusSeeOther {
		loc := p.header.Get("Location")
		if strings.HasPrefix(loc, "/") {
			loc = base + loc
		}
		if !strings.HasPrefix(loc, base+"/") {
			return p
		}
		p = b.get(loc)
	}
	return p
}

// signIn fills the sign-in form shown by p and follows to the next page.
func (b *browser) signIn(p page, base, username, password string) page {
	b.t.Helper()
	action, csrf := p.form(b.t, base)
	return b.follow(b.post(action, url.Values{"csrf": {csrf}, "username": {username}, "password": {password}}), base)
}

// decide presses Allow or Deny on the consent page p.
func (b *browser) decide(p page, base, decision string) page {
	b.t.Helper()
	if !strings.Contains(p.body, `value="allow"`) {
		b.t.Fatalf("not the consent page (%d): %s", p.status, p.body)
	}
	action, csrf := p.form(b.t, base)
	return b.post(action, url.Values{"csrf": {csrf}, "decision": {decision}})
}

// exchange redeems a code at /token for the client (redirect URI appRedirect).
func (s *stack) exchange(t *testing.T, id, secret, code, verifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// testChain is the refresh chain of every test node (see tokens.Chain).
var testChain = func() *tokens.Chain {
	c, err := tokens.NewChain([]byte("test key-encryption secret, 32 bytes+"))
	if err != nil {
		panic(err)
	}
	return c
}()
