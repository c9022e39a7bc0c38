package server_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"authserver/clients"
)

// OpenID Connect Core §3.1.2.1 request parameters: prompt, max_age,
// login_hint and id_token_hint.

const alicePassword = "alice's long password"

// oidcApp registers a client that may ask for openid (ES256: the stack's key
// set holds only the access-token algorithm).
func oidcApp(t *testing.T, s *stack, name string) (id, secret string) {
	t.Helper()
	return s.app(t, clients.Registration{Name: name, Scopes: []string{"openid", "profile"}, IDTokenAlg: "ES256"})
}

// oidcURL is an openid authorization request, changed by the extra pairs.
func (s *stack) oidcURL(clientID string, extra ...string) string {
	return s.authURL(clientID, append([]string{"scope", "openid profile", "nonce", "n-1"}, extra...)...)
}

func isSignInPage(p page) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `name="password"`)
}

func isConsentPage(p page) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `value="allow"`)
}

// codeOf returns the code of a successful redirect to the client.
func codeOf(t *testing.T, p page) string {
	t.Helper()
	code := p.location(t).Query().Get("code")
	if code == "" {
		t.Fatalf("want a code, got %s", p.header.Get("Location"))
	}
	return code
}

// idToken redeems a code and returns the raw ID Token and its claims.
func (s *stack) idToken(t *testing.T, id, secret, code string) (string, map[string]any) {
	t.Helper()
	status, tok := s.exchange(t, id, secret, code, testVerifier)
	raw, _ := tok["id_token"].(string)
	if status != http.StatusOK || raw == "" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	return raw, payloadOf(t, raw)
}

// signedInWithConsent signs alice in, if she is not yet, approves the
// client, and returns the ID Token.
func signedInWithConsent(t *testing.T, s *stack, b *browser, id, secret string) (string, map[string]any) {
	t.Helper()
	p := b.get(s.oidcURL(id))
	if isSignInPage(p) {
		p = b.signIn(p, s.srv.URL, "alice", alicePassword)
	}
	return s.idToken(t, id, secret, codeOf(t, b.decide(p, s.srv.URL, "allow")))
}

func TestPromptNone(t *testing.T) {
	s := newStack(t)
	id, secret := oidcApp(t, s, "Printer")
	s.user(t, "alice", alicePassword)
	b := newBrowser(t)

	wantRedirectError(t, s, b.get(s.oidcURL(id, "prompt", "none")), "login_required")
	// Signed in but not yet approved: consent_required, no page.
	b.signIn(b.get(s.oidcURL(id)), s.srv.URL, "alice", alicePassword)
	wantRedirectError(t, s, b.get(s.oidcURL(id, "prompt", "none")), "consent_required")
	// Approved: the code at once.
	signedInWithConsent(t, s, b, id, secret)
	_, claims := s.idToken(t, id, secret, codeOf(t, b.get(s.oidcURL(id, "prompt", "none", "nonce", "silent"))))
	if claims["nonce"] != "silent" {
		t.Fatalf("prompt=none ID Token %v", claims)
	}
}

func TestPromptValues(t *testing.T) {
	s := newStack(t)
	id, secret := oidcApp(t, s, "Printer")
	s.user(t, "alice", alicePassword)
	b := newBrowser(t)
	signedInWithConsent(t, s, b, id, secret)

	for _, tc := range []struct{ prompt, want string }{
		{"none login", "invalid_request"},
		{"consent none", "invalid_request"},
		{"bogus", "invalid_request"},
		{"select_account", "account_selection_required"},
		{"login select_account", "account_selection_required"},
	} {
		wantRedirectError(t, s, b.get(s.oidcURL(id, "prompt", tc.prompt)), tc.want)
	}
	if p := b.get(s.oidcURL(id, "prompt", "consent")); !isConsentPage(p) {
		t.Fatalf("prompt=consent with a remembered consent: %d %s", p.status, p.header.Get("Location"))
	}
	// Plain OAuth is as before: select_account is accepted and ignored.
	if p := b.get(s.authURL(id, "prompt", "select_account")); p.status == http.StatusFound && p.location(t).Query().Get("error") != "" {
		t.Fatalf("plain OAuth prompt=select_account refused: %s", p.header.Get("Location"))
	}
}

// prompt=login and max_age ask for the password again even with a live
// session, and the new sign-in is the ID Token's auth_time.
func TestPromptLoginAndMaxAgeForceSignIn(t *testing.T) {
	s := newStack(t)
	id, secret := oidcApp(t, s, "Printer")
	s.user(t, "alice", alicePassword)
	b := newBrowser(t)
	_, first := signedInWithConsent(t, s, b, id, secret)
	authTime := first["auth_time"].(float64)

	time.Sleep(1100 * time.Millisecond) // auth_time is in seconds
	// A young enough session is used as is.
	_, claims := s.idToken(t, id, secret, codeOf(t, b.get(s.oidcURL(id, "max_age", "3600"))))
	if claims["auth_time"] != authTime {
		t.Fatalf("max_age=3600: auth_time %v, want %v", claims["auth_time"], authTime)
	}
	// Older than max_age=1: prompt=none cannot help, the page asks again.
	wantRedirectError(t, s, b.get(s.oidcURL(id, "max_age", "1", "prompt", "none")), "login_required")
	for _, extra := range [][]string{{"prompt", "login"}, {"max_age", "0"}, {"max_age", "1"}} {
		p := b.get(s.oidcURL(id, extra...))
		if !isSignInPage(p) {
			t.Fatalf("%v with a live session: want the sign-in page, got %d %s", extra, p.status, p.header.Get("Location"))
		}
		// Signed in again: the code (consent is remembered), no loop.
		_, claims := s.idToken(t, id, secret, codeOf(t, b.signIn(p, s.srv.URL, "alice", alicePassword)))
		if got := claims["auth_time"].(float64); got <= authTime {
			t.Fatalf("%v: auth_time %v did not move on from %v", extra, got, authTime)
		}
		authTime = claims["auth_time"].(float64)
		time.Sleep(1100 * time.Millisecond)
	}
}

func TestMaxAgeMalformed(t *testing.T) {
	s := newStack(t)
	id, _ := oidcApp(t, s, "Printer")
	b := newBrowser(t)
	for _, v := range []string{"-1", "abc", "1.5", "+5", " 5", "0x10"} {
		wantRedirectError(t, s, b.get(s.oidcURL(id, "max_age", v)), "invalid_request")
	}
	if p := b.get(s.oidcURL(id, "max_age", "99999999999999999999999")); !isSignInPage(p) {
		t.Fatalf("a huge max_age: %d %s", p.status, p.header.Get("Location"))
	}
}

var usernameValueRe = regexp.MustCompile(`id="username" name="username" type="text" value="([^"]*)"`)

func TestLoginHintPrefillsUsername(t *testing.T) {
	s := newStack(t)
	id, _ := oidcApp(t, s, "Printer")
	b := newBrowser(t)
	for _, tc := range []struct{ hint, want string }{
		{"alice", "alice"},
		{`a"><script>alert(1)</script>`, `a"><script>alert(1)</script>`},
		{strings.Repeat("a", 257), ""}, // too long: ignored
		{"al\nice", ""},                // control character: ignored
	} {
		p := b.get(s.oidcURL(id, "login_hint", tc.hint))
		m := usernameValueRe.FindStringSubmatch(p.body)
		if !isSignInPage(p) || m == nil {
			t.Fatalf("login_hint %q: %d %s", tc.hint, p.status, p.body)
		}
		if got := html.UnescapeString(m[1]); got != tc.want {
			t.Errorf("login_hint %q prefilled %q, want %q", tc.hint, got, tc.want)
		}
		if strings.Contains(p.body, "<script>") {
			t.Errorf("login_hint %q reached the page unescaped", tc.hint)
		}
	}
}

// Every parameter survives the sign-in and consent pages, and the ignored
// ones cause no error.
func TestOpenIDParametersKeptThroughPages(t *testing.T) {
	s := newStack(t)
	id, secret := oidcApp(t, s, "Printer")
	s.user(t, "alice", alicePassword)
	b := newBrowser(t)
	extra := []string{"login_hint", "alice", "ui_locales", "fr-CA en", "claims_locales", "fr", "acr_values", "urn:x:loa:2", "display", "popup"}
	p := b.signIn(b.get(s.oidcURL(id, append(extra, "max_age", "600")...)), s.srv.URL, "alice", alicePassword)
	action, _ := p.form(t, s.srv.URL)
	u, _ := url.Parse(action)
	for i := 0; i+1 < len(extra); i += 2 {
		if got := u.Query().Get(extra[i]); got != extra[i+1] {
			t.Errorf("consent form carries %s=%q, want %q", extra[i], got, extra[i+1])
		}
	}
	if u.Query().Get("nonce") != "n-1" {
		t.Errorf("consent form lost the nonce: %s", action)
	}
	// The sign-in just done answers max_age, as it does prompt=login.
	if u.Query().Has("max_age") {
		t.Errorf("max_age kept after the sign-in: %s", action)
	}
	_, claims := s.idToken(t, id, secret, codeOf(t, b.decide(p, s.srv.URL, "allow")))
	if claims["nonce"] != "n-1" || claims["auth_time"] == nil {
		t.Fatalf("ID Token %v", claims)
	}
}

func TestIDTokenHint(t *testing.T) {
	s := newStack(t)
	id, secret := oidcApp(t, s, "Printer")
	other, otherSecret := oidcApp(t, s, "Scanner")
	s.user(t, "alice", alicePassword)
	s.user(t, "bob", "bob's long password")
	alice := newBrowser(t)
	aliceHint, _ := signedInWithConsent(t, s, alice, id, secret)
	otherHint, _ := signedInWithConsent(t, s, alice, other, otherSecret)

	// The right user: the code, silently.
	codeOf(t, alice.get(s.oidcURL(id, "prompt", "none", "id_token_hint", aliceHint)))
	// Another client's ID Token, an access token, garbage, a forged one.
	_, tok := s.exchange(t, id, secret, codeOf(t, alice.get(s.oidcURL(id, "prompt", "none"))), testVerifier)
	parts := strings.Split(aliceHint, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Split(otherHint, ".")[2]
	for name, hint := range map[string]string{
		"another client's": otherHint, "access token": tok["access_token"].(string),
		"garbage": "not.a.jwt", "forged": forged,
	} {
		t.Run(name, func(t *testing.T) {
			wantRedirectError(t, s, alice.get(s.oidcURL(id, "prompt", "none", "id_token_hint", hint)), "invalid_request")
		})
	}

	// Bob's browser, alice's hint: not silently bob.
	bob := newBrowser(t)
	p := bob.signIn(bob.get(s.oidcURL(id)), s.srv.URL, "bob", "bob's long password")
	codeOf(t, bob.decide(p, s.srv.URL, "allow"))
	wantRedirectError(t, s, bob.get(s.oidcURL(id, "prompt", "none", "id_token_hint", aliceHint)), "login_required")
	if p := bob.get(s.oidcURL(id, "id_token_hint", aliceHint)); !isSignInPage(p) {
		t.Fatalf("hint for another user without prompt=none: %d %s", p.status, p.header.Get("Location"))
	}
}

// TestIDTokenHintPairwise: a pairwise client's ID Token names no user ID,
// yet as id_token_hint it names its user, and no other, to prompt=none.
func TestIDTokenHintPairwise(t *testing.T) {
	s := newStack(t)
	id, secret := s.app(t, clients.Registration{
		Name: "Printer", Scopes: []string{"openid", "profile"}, IDTokenAlg: "ES256",
		RedirectURIs: []string{appRedirect}, SubjectType: clients.SubjectPairwise,
	})
	u := s.user(t, "alice", alicePassword)
	s.user(t, "bob", "bob's long password")
	alice := newBrowser(t)
	hint, claims := signedInWithConsent(t, s, alice, id, secret)
	if sub, _ := claims["sub"].(string); sub == "" || sub == u.ID {
		t.Fatalf("pairwise client's sub %q (user ID %q)", sub, u.ID)
	}
	codeOf(t, alice.get(s.oidcURL(id, "prompt", "none", "id_token_hint", hint)))

	bob := newBrowser(t)
	p := bob.signIn(bob.get(s.oidcURL(id)), s.srv.URL, "bob", "bob's long password")
	codeOf(t, bob.decide(p, s.srv.URL, "allow"))
	wantRedirectError(t, s, bob.get(s.oidcURL(id, "prompt", "none", "id_token_hint", hint)), "login_required")
}
