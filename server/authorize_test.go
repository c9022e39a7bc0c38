package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"authserver/clients"
	"authserver/server"
)

// wantErrorPage asserts the request was refused on a page, not redirected.
func wantErrorPage(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status || p.header.Get("Location") != "" {
		t.Fatalf("want a %d error page and no redirect, got %d (Location %q)", status, p.status, p.header.Get("Location"))
	}
	if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, `class="alert"`) {
		t.Fatalf("not the error page: %q %s", p.header.Get("Content-Type"), p.body)
	}
}

// wantRedirectError asserts an error sent back to the client's redirect
// URI with the request's state and the issuer (RFC 9207).
func wantRedirectError(t *testing.T, s *stack, p page, code string) url.Values {
	t.Helper()
	u := p.location(t)
	if got := u.Scheme + "://" + u.Host + u.Path; got != appRedirect {
		t.Fatalf("redirected to %s, want %s", got, appRedirect)
	}
	q := u.Query()
	if q.Get("error") != code || q.Get("state") != "st-123" || q.Get("iss") != s.issuer || q.Get("code") != "" {
		t.Fatalf("redirect %s, want error=%s with state and iss", u, code)
	}
	return q
}

// RFC 6749 §3.1.2.3 / RFC 9700 §4.1.3: the redirect URI must equal a
// registered one. go-oauth2's default is a host suffix match. None of
// these may redirect anywhere; the user sees an error page.
func TestAuthorizeRefusesUnregisteredRedirectURIs(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{
		RedirectURIs: []string{appRedirect, loopRedirect, "http://localhost/cb", "com.example.app:/oauth"},
	})
	b := newBrowser(t)
	for _, uri := range []string{
		"https://evil-app.test/callback",
		"https://evilapp.test/callback",
		"https://app.test.evil.test/callback",
		"https://sub.app.test/callback",
		"http://app.test/callback",
		"HTTPS://app.test/callback",
		"https://APP.test/callback",
		"javascript:alert(1)//https://app.test/callback",
		"data:text/html,<script>alert(1)</script>",
		"com.example.app.evil:/oauth",
		"https://app.test/callback#frag",
		"https://app.test/callback#",
		"https://app.test/callback/extra",
		"https://app.test/callback/../callback",
		"https://app.test/Callback",
		"https://app.test/callback?x=1",
		"https://app.test/callback?",
		"https://app.test/callback ",
		"https://app.test:8443/callback",
		"https://app.test:443/callback",
		"https://app.test@evil.test/callback",
		"https://evil.test@app.test/callback",
		"https://evil.test%40app.test/callback",
		"https://evil.test\\@app.test/callback",
		"//evil.test/callback",
		"/callback",
		"http://localhost.evil.test/cb",
		"http://127.0.0.1.evil.test/cb",
		"http://127.0.0.1:8080@evil.test/cb",
		"http://evil.test@127.0.0.1/cb",
		"http://127.0.0.1:80\\@evil.test/cb",
		"http://127.0.0.1:99999999/cb",
		"http://127.0.0.1:/cb",
		"http://127.0.0.1:8080/cb/extra",
		"http://127.0.0.1:8080/cb#x",
		"https://127.0.0.1:8080/cb",
		"http://127.0.0.2/cb",
		"http://[::1]/cb",
		"",
	} {
		p := b.get(s.authURL(id, "redirect_uri", uri))
		if p.status == 0 || p.header.Get("Location") != "" {
			t.Fatalf("%q redirected to %q", uri, p.header.Get("Location"))
		}
		wantErrorPage(t, p, http.StatusBadRequest)
	}

	// Until the client is known, nothing is redirected either.
	wantErrorPage(t, b.get(s.authURL("", "client_id", "")), http.StatusBadRequest)
	wantErrorPage(t, b.get(s.authURL("no-such-client")), http.StatusBadRequest)
	wantErrorPage(t, b.get(s.authURL(id)+"&redirect_uri="+url.QueryEscape("https://evil.test/cb")), http.StatusBadRequest)
	wantErrorPage(t, b.get(s.authURL(id)+"&client_id="+id), http.StatusBadRequest)
	if _, err := s.clients.SetDisabled(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	wantErrorPage(t, b.get(s.authURL(id)), http.StatusBadRequest)
}

// RFC 8252 §7.3: a loopback redirect URI may come back on any port; the
// code goes to exactly the URI the request named.
func TestAuthorizeLoopbackAnyPort(t *testing.T) {
	s := newStack(t)
	id, secret := s.app(t, clients.Registration{})
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	p := b.get(s.authURL(id, "redirect_uri", "http://127.0.0.1:51234/cb"))
	b.decide(b.signIn(p, s.srv.URL, "alice", "alice's long password"), s.srv.URL, "allow")
	for _, uri := range []string{"http://127.0.0.1:51234/cb", "http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"} {
		p := b.get(s.authURL(id, "redirect_uri", uri))
		loc := p.header.Get("Location")
		if !strings.HasPrefix(loc, uri+"?") {
			t.Fatalf("code sent to %q, want %s", loc, uri)
		}
		code := p.location(t).Query().Get("code")
		// The token request must name the same URI, port included.
		if status, _ := s.exchange(t, id, secret, code, testVerifier); status != http.StatusBadRequest {
			t.Fatalf("exchange with a different redirect_uri: %d", status)
		}
	}
}

// Errors after the client and redirect URI are validated go back to the
// client with state and iss.
func TestAuthorizeErrorsGoBackToTheClient(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{})
	ccOnly, _ := s.app(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	b := newBrowser(t)
	for _, tc := range []struct {
		name  string
		url   string
		error string
	}{
		{"token response type", s.authURL(id, "response_type", "token"), "unsupported_response_type"},
		{"no response type", s.authURL(id, "response_type", ""), "invalid_request"},
		{"missing PKCE", s.authURL(id, "code_challenge", "", "code_challenge_method", ""), "invalid_request"},
		{"plain PKCE", s.authURL(id, "code_challenge", testVerifier, "code_challenge_method", "plain"), "invalid_request"},
		{"method left out means plain", s.authURL(id, "code_challenge_method", ""), "invalid_request"},
		{"method without challenge", s.authURL(id, "code_challenge", ""), "invalid_request"},
		{"malformed challenge", s.authURL(id, "code_challenge", "too-short"), "invalid_request"},
		{"unknown scope", s.authURL(id, "scope", "admin"), "invalid_scope"},
		{"repeated parameter", s.authURL(id) + "&state=again", "invalid_request"},
		{"fragment response mode", s.authURL(id, "response_mode", "fragment"), "invalid_request"},
		{"unknown prompt", s.authURL(id, "prompt", "bogus"), "invalid_request"},
		{"prompt none with login", s.authURL(id, "prompt", "none login"), "invalid_request"},
		{"prompt none without a session", s.authURL(id, "prompt", "none"), "login_required"},
		{"client without the grant", s.authURL(ccOnly, "redirect_uri", appRedirect), "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRedirectError(t, s, b.get(tc.url), tc.error)
		})
	}
}

// The whole flow without a browser: sign-in, consent, code, token; then a
// remembered consent, prompt handling, first-party clients and sign-out.
func TestAuthorizeFlow(t *testing.T) {
	s := newStack(t)
	id, secret := s.app(t, clients.Registration{})
	alice := s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	base := s.srv.URL

	p := b.get(s.authURL(id))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Invoice Viewer") || !strings.Contains(p.body, `name="username"`) {
		t.Fatalf("want the sign-in page naming the client, got %d: %s", p.status, p.body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control"} {
		if p.header.Get(h) == "" {
			t.Fatalf("sign-in page without %s", h)
		}
	}
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", p.header.Get("Content-Security-Policy"))
	}
	p = b.signIn(p, base, "alice", "alice's long password")
	if !strings.Contains(p.body, "Invoice Viewer") || !strings.Contains(p.body, "alice") || !strings.Contains(p.body, "profile") {
		t.Fatalf("consent page should name the client, the user and the scopes: %s", p.body)
	}
	sessionCookie := cookie(t, b, base, "authserver_session")
	if _, err := s.store.GetSession(context.Background(), hash(sessionCookie)); err != nil {
		t.Fatalf("the session should be stored under the hash of its cookie: %v", err)
	}

	redirect := b.decide(p, base, "allow")
	if redirect.status != http.StatusSeeOther {
		t.Fatalf("after a form post the redirect must be 303, got %d", redirect.status)
	}
	q := redirect.location(t).Query()
	if q.Get("state") != "st-123" || q.Get("iss") != s.issuer || len(q.Get("code")) < 43 {
		t.Fatalf("authorization response %v", q)
	}
	if status, tok := s.exchange(t, id, secret, q.Get("code"), testVerifier); status != http.StatusOK || tok["refresh_token"] == nil || tok["scope"] != "profile" {
		t.Fatalf("exchange: %d %v", status, tok)
	}

	// Remembered consent: straight back to the client, no page.
	q = b.get(s.authURL(id)).location(t).Query()
	if q.Get("code") == "" || q.Get("iss") != s.issuer {
		t.Fatalf("remembered consent should skip the page: %v", q)
	}
	// ... also for prompt=none, but not for more scopes or prompt=consent.
	if b.get(s.authURL(id, "prompt", "none")).location(t).Query().Get("code") == "" {
		t.Fatal("prompt=none with a session and consent should give a code")
	}
	wantRedirectError(t, s, b.get(s.authURL(id, "prompt", "none", "scope", "profile invoices:read")), "consent_required")
	if p := b.get(s.authURL(id, "prompt", "consent")); !strings.Contains(p.body, `value="allow"`) {
		t.Fatalf("prompt=consent should show the consent page: %d", p.status)
	}
	// prompt=login asks again even with a session, then goes on.
	p = b.get(s.authURL(id, "prompt", "login"))
	if !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("prompt=login should show the sign-in page: %d", p.status)
	}
	p = b.signIn(p, base, "alice", "alice's long password")
	if p.location(t).Query().Get("code") == "" {
		t.Fatalf("after prompt=login the remembered consent applies: %d %s", p.status, p.body)
	}
	if cookie(t, b, base, "authserver_session") == sessionCookie {
		t.Fatal("signing in again must change the session id")
	}
	if _, err := s.store.GetSession(context.Background(), hash(sessionCookie)); err == nil {
		t.Fatal("the old session must be gone after signing in again")
	}

	// A first-party client skips consent.
	first, _ := s.app(t, clients.Registration{FirstParty: true})
	if b.get(s.authURL(first)).location(t).Query().Get("code") == "" {
		t.Fatal("a first-party client should skip consent")
	}

	// Deny: access_denied with state and iss.
	other, _ := s.app(t, clients.Registration{Name: "Other App"})
	wantRedirectError(t, s, b.decide(b.get(s.authURL(other)), base, "deny"), "access_denied")

	// A disabled user's session ends.
	if err := s.users.SetDisabled(context.Background(), alice.ID, true); err != nil {
		t.Fatal(err)
	}
	wantRedirectError(t, s, b.get(s.authURL(id, "prompt", "none")), "login_required")
	if err := s.users.SetDisabled(context.Background(), alice.ID, false); err != nil {
		t.Fatal(err)
	}

	// Sign out: the session is gone.
	b.signIn(b.get(s.authURL(id, "prompt", "login")), base, "alice", "alice's long password")
	p = b.get(base + "/logout")
	action, csrf := p.form(t, base)
	if p = b.post(action, url.Values{"csrf": {csrf}}); p.status != http.StatusOK || !strings.Contains(p.body, "signed out") {
		t.Fatalf("sign out: %d %s", p.status, p.body)
	}
	wantRedirectError(t, s, b.get(s.authURL(id, "prompt", "none")), "login_required")
}

// Wrong passwords and unknown users get the same words; failures are
// limited per username (with the password grant's counter) and per IP.
func TestAuthorizeLoginBruteForce(t *testing.T) {
	s := newStack(t) // 3 failures per user, 10 per IP
	id, _ := s.app(t, clients.Registration{})
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	base := s.srv.URL
	login := b.get(s.authURL(id))
	try := func(user, password string) page {
		action, csrf := login.form(t, base)
		return b.post(action, url.Values{"csrf": {csrf}, "username": {user}, "password": {password}})
	}
	wrong, unknown := try("alice", "wrong password"), try("nobody", "wrong password")
	for _, p := range []page{wrong, unknown} {
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Invalid username or password.") {
			t.Fatalf("want the generic message, got %d: %s", p.status, p.body)
		}
	}
	try("ALICE", "wrong password") // one counter for every spelling of a name
	try("Alice", "wrong password")
	for _, p := range []page{try("alice", "alice's long password"), try("Alice", "wrong password")} {
		if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many failed sign-in attempts") || p.header.Get("Retry-After") == "" {
			t.Fatalf("want the lockout, got %d: %s", p.status, p.body)
		}
		if cookieOrEmpty(b, base, "authserver_session") != "" {
			t.Fatal("a locked-out sign-in started a session")
		}
	}
	// Per IP: spread over many usernames, the address is held too (10).
	for i := range 8 {
		try("user"+string(rune('a'+i)), "wrong password")
	}
	if p := try("someone", "wrong password"); p.status != http.StatusTooManyRequests {
		t.Fatalf("want the per-IP lockout, got %d", p.status)
	}
}

// Every form carries a CSRF token, compared in constant time; a post
// without it, or with a wrong one, changes nothing.
func TestAuthorizeCSRF(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{})
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	base := s.srv.URL

	login := b.get(s.authURL(id))
	action, csrf := login.form(t, base)
	for _, bad := range []string{"", "wrong", csrf[:len(csrf)-1] + "x"} {
		p := b.post(action, url.Values{"csrf": {bad}, "username": {"alice"}, "password": {"alice's long password"}})
		if p.status != http.StatusForbidden || cookieOrEmpty(b, base, "authserver_session") != "" {
			t.Fatalf("sign-in with CSRF %q: %d, session %q", bad, p.status, cookieOrEmpty(b, base, "authserver_session"))
		}
	}
	// Another browser (no CSRF cookie) posting this browser's token: refused.
	if p := newBrowser(t).post(action, url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"alice's long password"}}); p.status != http.StatusForbidden {
		t.Fatalf("a token without its cookie was accepted: %d", p.status)
	}

	consent := b.signIn(login, base, "alice", "alice's long password")
	action, csrf = consent.form(t, base)
	for _, bad := range []string{"", "wrong", csrf[:len(csrf)-1] + "x"} {
		p := b.post(action, url.Values{"csrf": {bad}, "decision": {"allow"}})
		wantErrorPage(t, p, http.StatusForbidden)
	}
	if p := b.get(s.authURL(id)); !strings.Contains(p.body, `value="allow"`) {
		t.Fatal("a refused consent post must not remember consent")
	}

	p := b.post(base+"/logout", url.Values{"csrf": {"wrong"}})
	wantErrorPage(t, p, http.StatusForbidden)
	if cookieOrEmpty(b, base, "authserver_session") == "" || !strings.Contains(b.get(s.authURL(id)).body, `value="allow"`) {
		t.Fatal("a forged sign-out must not sign the user out")
	}
}

// Cookies: HttpOnly and SameSite=Lax always, Secure (and __Host-) when the
// issuer is https.
func TestAuthorizeCookies(t *testing.T) {
	for _, issuer := range []string{"", "https://auth.example.test"} {
		s := newStack(t, func(c *stackConfig) {
			if issuer != "" {
				c.issuer = issuer
			}
		})
		id, _ := s.app(t, clients.Registration{})
		rec := httptest.NewRecorder()
		srvHandler(t, s).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, s.authURL(id), nil))
		cookies := rec.Result().Cookies()
		if rec.Code != http.StatusOK || len(cookies) != 1 {
			t.Fatalf("%s: %d, cookies %v", issuer, rec.Code, cookies)
		}
		c := cookies[0]
		secure := issuer != ""
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || strings.HasPrefix(c.Name, "__Host-") != secure || c.Path != "/" {
			t.Fatalf("%s: cookie %+v", issuer, c)
		}
	}
}

// srvHandler returns the stack's handler for in-process requests.
func srvHandler(t *testing.T, s *stack) http.Handler {
	t.Helper()
	return s.srv.Config.Handler
}

func TestMetadataAdvertisesAuthorize(t *testing.T) {
	s := newStack(t)
	resp, err := http.Get(s.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["authorization_endpoint"] != s.issuer+"/authorize" || m["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("metadata %v", m)
	}
	for k, want := range map[string]string{
		"response_types_supported": `["code"]`, "code_challenge_methods_supported": `["S256"]`,
		"grant_types_supported": `["authorization_code","client_credentials","password","refresh_token"]`,
	} {
		got, _ := json.Marshal(m[k])
		if string(got) != want {
			t.Fatalf("%s = %s, want %s", k, got, want)
		}
	}

	// A server without the endpoint does not advertise it.
	rec := httptest.NewRecorder()
	server.NewPublic(server.Options{Issuer: "https://x.test", Token: http.NotFoundHandler(), JWKS: func() []byte { return nil }}).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	if strings.Contains(rec.Body.String(), "authorization_endpoint") || strings.Contains(rec.Body.String(), "authorization_code") {
		t.Fatalf("metadata without /authorize: %s", rec.Body)
	}
}

func cookie(t *testing.T, b *browser, base, name string) string {
	t.Helper()
	v := cookieOrEmpty(b, base, name)
	if v == "" {
		t.Fatalf("no %s cookie", name)
	}
	return v
}

func cookieOrEmpty(b *browser, base, name string) string {
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// A browser that signed alice in before keeps signing her in while another
// browser at the same address has used up her per-user failures (3 in the
// stack), and its own failures lock only itself.
func TestAuthorizeDeviceCookieSurvivesLockout(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{})
	s.user(t, "alice", "alice's long password")
	base := s.srv.URL
	signIn := func(b *browser, password string) int {
		// prompt=login: the sign-in form even for a browser signed in.
		action, csrf := b.get(s.authURL(id, "prompt", "login")).form(t, base)
		return b.post(action, url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {password}}).status
	}
	alice, attacker := newBrowser(t), newBrowser(t)
	if st := signIn(alice, "alice's long password"); st != http.StatusSeeOther {
		t.Fatalf("first sign-in: %d", st)
	}
	for range 3 {
		signIn(attacker, "guess guess")
	}
	if st := signIn(attacker, "alice's long password"); st != http.StatusTooManyRequests {
		t.Fatalf("the attacker over the limit: %d, want 429", st)
	}
	if st := signIn(alice, "alice's long password"); st != http.StatusSeeOther {
		t.Fatalf("alice's browser after the attack: %d, want 303", st)
	}
	// Her browser's own failures lock that device cookie only.
	for range 3 {
		signIn(alice, "typo typo")
	}
	if st := signIn(alice, "alice's long password"); st != http.StatusTooManyRequests {
		t.Fatalf("alice's browser over its own limit: %d, want 429", st)
	}
}
