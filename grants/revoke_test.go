package grants_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
	"authserver/tokens"
)

// endpoints serves /token, /revoke and /introspect of the harness's
// endpoint on one test server.
type endpoints struct {
	*harness
	base string
}

func newEndpoints(t *testing.T, tweak ...func(*grants.Config)) *endpoints {
	t.Helper()
	h := newHarness(t, tweak...)
	return &endpoints{harness: h, base: serveAll(t, h.endpoint)}
}

func serveAll(t *testing.T, e *grants.Endpoint) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/token", e)
	mux.Handle("/revoke", e.RevocationHandler())
	mux.Handle("/introspect", e.IntrospectionHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// raw is an answer whose body may be empty (a revocation).
type raw struct {
	status int
	header http.Header
	body   string
}

// send posts form to base+path with Basic credentials when secret is not
// empty, else with client_id in the body when id is not empty.
func send(t *testing.T, base, path string, form url.Values, id, secret string) raw {
	t.Helper()
	if secret == "" && id != "" {
		form.Set("client_id", id)
	}
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s: server error %d: %s", path, resp.StatusCode, b)
	}
	return raw{resp.StatusCode, resp.Header, string(b)}
}

func (e *endpoints) token(t *testing.T, form url.Values, id, secret string) reply {
	t.Helper()
	r := e.postURL(t, e.base, form, id, secret)
	wantToken(t, r)
	return r
}

// revoke revokes token as the client and expects 200.
func (e *endpoints) revoke(t *testing.T, token, hint, id, secret string) {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	r := send(t, e.base, "/revoke", form, id, secret)
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("revoke answer without Cache-Control: no-store: %v", r.header)
	}
}

// introspect asks about token as the client and returns the answer.
func (e *endpoints) introspect(t *testing.T, token, hint, id, secret string) map[string]any {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	r := send(t, e.base, "/introspect", form, id, secret)
	if r.status != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("introspection headers %v", r.header)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("introspection body %q: %v", r.body, err)
	}
	return m
}

// wantInactive asserts exactly {"active": false}: nothing about the token.
func wantInactive(t *testing.T, m map[string]any) {
	t.Helper()
	if len(m) != 1 || m["active"] != false {
		t.Fatalf("want {\"active\": false}, got %v", m)
	}
}

func wantActive(t *testing.T, m map[string]any) {
	t.Helper()
	if m["active"] != true {
		t.Fatalf("want an active token, got %v", m)
	}
}

func (e *endpoints) denied(t *testing.T, accessToken string) bool {
	t.Helper()
	c, err := e.issuer.Verify(accessToken)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.store.IsDenied(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// revokeSetup: an app with password+refresh, a resource server allowed to
// introspect, a second app, and a signed-in user.
type revokeSetup struct {
	*endpoints
	app, appSecret     string
	other, otherSecret string
	rs, rsSecret       string
}

func setupRevoke(t *testing.T) revokeSetup {
	e := newEndpoints(t)
	s := revokeSetup{endpoints: e}
	reg := clients.Registration{GrantTypes: []string{"password", "refresh_token", "client_credentials"}, Scopes: []string{"read", "write"}}
	s.app, s.appSecret = e.client(t, reg)
	s.other, s.otherSecret = e.client(t, reg)
	s.rs, s.rsSecret = e.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	e.user(t, "alice", "alice's password")
	return s
}

// signIn runs the password grant for the app: access and refresh token.
func (s revokeSetup) signIn(t *testing.T) (access, refresh string) {
	t.Helper()
	r := s.token(t, pwForm("alice", "alice's password"), s.app, s.appSecret)
	return r.str("access_token"), r.str("refresh_token")
}

func (s revokeSetup) refreshWorks(t *testing.T, rt string) (reply, bool) {
	t.Helper()
	r := s.postURL(t, s.base, rtForm(rt), s.app, s.appSecret)
	return r, r.status == http.StatusOK
}

// RFC 7009 §2.1: revoking a refresh token revokes its family and the
// newest access token issued from it.
func TestRevokeRefreshTokenRevokesFamily(t *testing.T) {
	s := setupRevoke(t)
	_, rt := s.signIn(t)
	r, ok := s.refreshWorks(t, rt)
	if !ok {
		t.Fatalf("refresh: %v", r.body)
	}
	rt, at := r.str("refresh_token"), r.str("access_token")
	wantActive(t, s.introspect(t, at, "", s.rs, s.rsSecret))

	s.revoke(t, rt, "refresh_token", s.app, s.appSecret)

	if _, ok := s.refreshWorks(t, rt); ok {
		t.Fatal("a revoked refresh token still refreshes")
	}
	fam, _ := tokens.ParseRefreshToken(rt)
	if f, err := s.store.GetFamily(context.Background(), fam); err != nil || !f.Revoked {
		t.Fatalf("family after revocation: %+v %v", f, err)
	}
	if !s.denied(t, at) {
		t.Fatal("the family's newest access token is not denied")
	}
	wantInactive(t, s.introspect(t, at, "", s.rs, s.rsSecret))
	wantInactive(t, s.introspect(t, rt, "", s.app, s.appSecret))
	// Revoking again, or the revoked token once more: still 200.
	s.revoke(t, rt, "", s.app, s.appSecret)
}

// The hint is honoured (tried first) but not trusted: a wrong or unknown
// hint still finds the token.
func TestRevokeHintNotTrusted(t *testing.T) {
	for _, hint := range []string{"access_token", "refresh_token", "id_token", ""} {
		t.Run("hint="+hint, func(t *testing.T) {
			s := setupRevoke(t)
			_, rt := s.signIn(t)
			s.revoke(t, rt, hint, s.app, s.appSecret)
			if _, ok := s.refreshWorks(t, rt); ok {
				t.Fatal("refresh token not revoked")
			}
			cc := s.token(t, ccForm(), s.app, s.appSecret).str("access_token")
			s.revoke(t, cc, hint, s.app, s.appSecret)
			if !s.denied(t, cc) {
				t.Fatal("access token not revoked")
			}
		})
	}
}

func TestRevokeAccessToken(t *testing.T) {
	s := setupRevoke(t)
	at, rt := s.signIn(t)
	s.revoke(t, at, "access_token", s.app, s.appSecret)
	if !s.denied(t, at) {
		t.Fatal("jti not denied")
	}
	wantInactive(t, s.introspect(t, at, "", s.rs, s.rsSecret))
	// Only that token: the refresh token and other access tokens live on.
	r, ok := s.refreshWorks(t, rt)
	if !ok {
		t.Fatalf("revoking an access token killed the refresh token: %v", r.body)
	}
	wantActive(t, s.introspect(t, r.str("access_token"), "", s.rs, s.rsSecret))
	cc := s.token(t, ccForm(), s.app, s.appSecret).str("access_token")
	wantActive(t, s.introspect(t, cc, "", s.rs, s.rsSecret))
}

// A client can neither revoke nor learn about another client's tokens:
// 200, and nothing changes.
func TestRevokeOtherClientsTokensLeavesThemAlone(t *testing.T) {
	s := setupRevoke(t)
	at, rt := s.signIn(t)
	for _, hint := range []string{"", "refresh_token", "access_token"} {
		s.revoke(t, rt, hint, s.other, s.otherSecret)
		s.revoke(t, at, hint, s.other, s.otherSecret)
		s.revoke(t, at, hint, s.rs, s.rsSecret)
	}
	if s.denied(t, at) {
		t.Fatal("another client's revocation denied the access token")
	}
	wantActive(t, s.introspect(t, at, "", s.rs, s.rsSecret))
	fam, _ := tokens.ParseRefreshToken(rt)
	if f, _ := s.store.GetFamily(context.Background(), fam); f.Revoked {
		t.Fatal("another client's revocation revoked the family")
	}
	if r, ok := s.refreshWorks(t, rt); !ok {
		t.Fatalf("refresh after another client's revocation: %v", r.body)
	}
}

// Unknown, malformed, expired or forged tokens: 200 and nothing changes. A
// right family id with a wrong secret, or a rotated token, does not revoke
// the family (a revocation is not a reuse detector).
func TestRevokeUnknownTokens(t *testing.T) {
	s := setupRevoke(t)
	at, rt := s.signIn(t)
	r, _ := s.refreshWorks(t, rt)
	old, rt := rt, r.str("refresh_token")
	fam, _ := tokens.ParseRefreshToken(rt)
	wrongSecret, _ := tokens.NewRefreshToken(fam)
	randomRT, _ := tokens.NewRefreshToken(tokens.NewFamilyID())
	for _, tok := range []string{
		"x", "not a token at all", strings.Repeat("a", 4000), randomRT, wrongSecret, old,
		at[:len(at)-4] + "AAAA", // a broken signature
		s.expiredAccess(t, s.app),
		"a.b.c", "..", ".", "\x00",
	} {
		s.revoke(t, tok, "", s.app, s.appSecret)
		s.revoke(t, tok, "refresh_token", s.app, s.appSecret)
	}
	if f, err := s.store.GetFamily(context.Background(), fam); err != nil || f.Revoked {
		t.Fatalf("family after revoking unknown tokens: %+v %v", f, err)
	}
	if _, ok := s.refreshWorks(t, rt); !ok {
		t.Fatal("the current refresh token stopped working")
	}
}

// RFC 7009 §2.1: a public client revokes its own tokens with its client_id.
func TestRevokePublicClient(t *testing.T) {
	e := newEndpoints(t)
	pub, _ := e.client(t, clients.Registration{Public: true, GrantTypes: codeAndRefresh, Scopes: []string{"read"}, RedirectURIs: []string{acRedirect}})
	conf, _ := e.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	u := e.user(t, "bob", "bob's password")
	code, err := e.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: pub, UserID: u.ID, RedirectURI: acRedirect, Scope: "read",
		CodeChallenge: challengeOf(acVerifier), AuthTime: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	form := acForm(code, acVerifier)
	form.Set("client_id", pub)
	r := e.postURL(t, e.base, form, "", "")
	wantToken(t, r)
	rt := r.str("refresh_token")

	// A public client cannot act for a confidential one by naming it.
	res := send(t, e.base, "/revoke", url.Values{"token": {rt}}, conf, "")
	if res.status != http.StatusUnauthorized {
		t.Fatalf("client_id of a confidential client without its secret: %d %s", res.status, res.body)
	}
	e.revoke(t, rt, "", pub, "")
	fam, _ := tokens.ParseRefreshToken(rt)
	if f, _ := e.store.GetFamily(context.Background(), fam); !f.Revoked {
		t.Fatal("the public client's family was not revoked")
	}
}

// Bad requests are clear 4xx answers, never 5xx, and change nothing.
func TestRevokeAndIntrospectRequestErrors(t *testing.T) {
	s := setupRevoke(t)
	at, rt := s.signIn(t)
	for _, path := range []string{"/revoke", "/introspect"} {
		t.Run(path, func(t *testing.T) {
			id, secret := s.app, s.appSecret
			cases := []struct {
				name   string
				req    func() *http.Request
				status int
				code   string
			}{
				{"no client authentication", func() *http.Request {
					return formReq(path, url.Values{"token": {at}}, "", "")
				}, 401, "invalid_client"},
				{"wrong secret", func() *http.Request {
					return formReq(path, url.Values{"token": {at}}, id, "wrong")
				}, 401, "invalid_client"},
				{"unknown client", func() *http.Request {
					return formReq(path, url.Values{"token": {at}}, "nobody", "wrong")
				}, 401, "invalid_client"},
				{"no token", func() *http.Request {
					return formReq(path, url.Values{}, id, secret)
				}, 400, "invalid_request"},
				{"empty token", func() *http.Request {
					return formReq(path, url.Values{"token": {""}}, id, secret)
				}, 400, "invalid_request"},
				{"repeated token", func() *http.Request {
					return formReq(path, url.Values{"token": {at, rt}}, id, secret)
				}, 400, "invalid_request"},
				{"token in the query", func() *http.Request {
					r := formReq(path, url.Values{}, id, secret)
					r.URL.RawQuery = "token=" + url.QueryEscape(rt)
					return r
				}, 400, "invalid_request"},
				{"JSON body", func() *http.Request {
					r := formReq(path, url.Values{}, id, secret)
					r.Body = io.NopCloser(strings.NewReader(`{"token":"x"}`))
					r.Header.Set("Content-Type", "application/json")
					return r
				}, 400, "invalid_request"},
				{"GET", func() *http.Request {
					r := formReq(path, url.Values{"token": {at}}, id, secret)
					r.Method = http.MethodGet
					return r
				}, 400, "invalid_request"},
				{"two authentication methods", func() *http.Request {
					return formReq(path, url.Values{"token": {at}, "client_secret": {secret}}, id, secret)
				}, 400, "invalid_request"},
				{"oversized body", func() *http.Request {
					return formReq(path, url.Values{"token": {strings.Repeat("a", 70<<10)}}, id, secret)
				}, 413, "invalid_request"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					req := c.req()
					u, _ := url.Parse(s.base + req.URL.Path)
					u.RawQuery = req.URL.RawQuery
					req.URL, req.Host = u, u.Host
					wantError(t, do(t, req), c.status, c.code)
				})
			}
		})
	}
	if s.denied(t, at) {
		t.Fatal("a refused request revoked the access token")
	}
	if _, ok := s.refreshWorks(t, rt); !ok {
		t.Fatal("a refused request revoked the refresh token")
	}
}

func formReq(path string, form url.Values, id, secret string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.RequestURI = ""
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return req
}
