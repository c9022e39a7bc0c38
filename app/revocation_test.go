package app_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"authserver/config"
	"authserver/store/redistest"
)

// pages is a browser without JavaScript on the server's sign-in pages: a
// cookie jar, no redirects followed on its own.
type pages struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newPages(t *testing.T, base string) *pages {
	jar, _ := cookiejar.New(nil)
	return &pages{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (p *pages) do(method, u string, form url.Values) answer {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		p.t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

// follow follows redirects within the server and returns the first answer
// that is not one, or the redirect that leaves the server (to the client).
func (p *pages) follow(a answer) answer {
	p.t.Helper()
	for a.status == http.StatusFound || a.status == http.StatusSeeOther {
		loc := a.header.Get("Location")
		if strings.HasPrefix(loc, "/") {
			loc = p.base + loc
		}
		if !strings.HasPrefix(loc, p.base+"/") {
			return a
		}
		a = p.do(http.MethodGet, loc, nil)
	}
	return a
}

var (
	pageCSRF   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	pageAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// submit posts the page's form with fields added, and follows.
func (p *pages) submit(a answer, fields url.Values) answer {
	p.t.Helper()
	act, csrf := pageAction.FindStringSubmatch(a.body), pageCSRF.FindStringSubmatch(a.body)
	if act == nil || csrf == nil {
		p.t.Fatalf("no form on the page (%d): %s", a.status, a.body)
	}
	fields.Set("csrf", html.UnescapeString(csrf[1]))
	return p.follow(p.do(http.MethodPost, p.base+html.UnescapeString(act[1]), fields))
}

// callback is where an answer sent the browser back to the client: its
// query (code, or error).
func callback(t *testing.T, a answer) url.Values {
	t.Helper()
	if a.status != http.StatusFound && a.status != http.StatusSeeOther {
		t.Fatalf("want a redirect back to the client, got %d: %s", a.status, a.body)
	}
	u, err := url.Parse(a.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

const revocationRedirect = "https://printer.test/callback"

// revocationApp is a third-party app (consent shown) on node n, and a
// signed-in user of it.
type revocationApp struct {
	n              *node
	id, secret     string
	userID         string
	username, pass string
	conf           oauth2.Config
	verifier       string
}

func newRevocationApp(t *testing.T, n *node, name string) *revocationApp {
	t.Helper()
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "printer " + name, "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"profile", "invoices:read"}, "redirect_uris": []string{revocationRedirect},
	})
	u := n.admin(t, "POST", "/admin/users", map[string]any{"username": name, "password": name + "'s long password"})
	ra := &revocationApp{n: n, id: c["id"].(string), secret: c["client_secret"].(string),
		userID: u["id"].(string), username: name, pass: name + "'s long password", verifier: oauth2.GenerateVerifier()}
	ra.conf = oauth2.Config{
		ClientID: ra.id, ClientSecret: ra.secret, RedirectURL: revocationRedirect, Scopes: []string{"profile", "invoices:read"},
		Endpoint: oauth2.Endpoint{AuthURL: n.base + "/authorize", TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	return ra
}

func (ra *revocationApp) authURL(extra ...oauth2.AuthCodeOption) string {
	return ra.conf.AuthCodeURL("st", append(extra, oauth2.S256ChallengeOption(ra.verifier))...)
}

// signIn signs the browser in and approves (when asked); it returns the code.
func (ra *revocationApp) signIn(t *testing.T, p *pages) string {
	t.Helper()
	a := p.follow(p.do(http.MethodGet, ra.authURL(), nil))
	if strings.Contains(a.body, `name="password"`) {
		a = p.submit(a, url.Values{"username": {ra.username}, "password": {ra.pass}})
	}
	if strings.Contains(a.body, `value="allow"`) {
		a = p.submit(a, url.Values{"decision": {"allow"}})
	}
	q := callback(t, a)
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	return q.Get("code")
}

// silent asks for a code with prompt=none: the code, or the error.
func (ra *revocationApp) silent(t *testing.T, p *pages) url.Values {
	t.Helper()
	return callback(t, p.do(http.MethodGet, ra.authURL(oauth2.SetAuthURLParam("prompt", "none")), nil))
}

func (ra *revocationApp) exchange(code string) (*oauth2.Token, error) {
	return ra.conf.Exchange(context.Background(), code, oauth2.VerifierOption(ra.verifier))
}

func (ra *revocationApp) refresh(rt string) (*oauth2.Token, error) {
	return ra.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("%s: got %v, want invalid_grant", what, err)
	}
}

// revocationModel runs the attacks on the revocation model against n.
func revocationModel(t *testing.T, n *node) {
	// Finding: sign-out everywhere and a new password left browser sessions
	// alive: the old cookie still got a code with prompt=none, and the code
	// a fresh refresh token.
	for _, how := range []struct {
		name   string
		revoke func(t *testing.T, ra *revocationApp)
	}{
		{"SignOutEverywhere", func(t *testing.T, ra *revocationApp) {
			n.admin(t, "DELETE", "/admin/users/"+ra.userID+"/families", nil)
		}},
		{"NewPassword", func(t *testing.T, ra *revocationApp) {
			ra.pass = "a brand new long password"
			n.admin(t, "PUT", "/admin/users/"+ra.userID+"/password", map[string]any{"password": ra.pass})
		}},
		{"Disable", func(t *testing.T, ra *revocationApp) {
			n.admin(t, "POST", "/admin/users/"+ra.userID+"/disable", nil)
			n.admin(t, "POST", "/admin/users/"+ra.userID+"/enable", nil)
		}},
	} {
		t.Run("SessionsEndWith"+how.name, func(t *testing.T) {
			ra := newRevocationApp(t, n, strings.ToLower(how.name))
			p := newPages(t, n.base)
			tok, err := ra.exchange(ra.signIn(t, p))
			if err != nil {
				t.Fatal(err)
			}
			pending := ra.silent(t, p).Get("code") // issued before, redeemed after
			if pending == "" {
				t.Fatal("a signed-in browser got no code with prompt=none")
			}
			how.revoke(t, ra)
			if q := ra.silent(t, p); q.Get("error") != "login_required" || q.Get("code") != "" {
				t.Fatalf("the old session still answers prompt=none: %v", q)
			}
			_, err = ra.exchange(pending)
			wantInvalidGrant(t, "a code issued before the revocation", err)
			_, err = ra.refresh(tok.RefreshToken)
			wantInvalidGrant(t, "a refresh token from before the revocation", err)
			// The consent went with it: signing in again asks anew.
			a := p.follow(p.do(http.MethodGet, ra.authURL(), nil))
			a = p.submit(a, url.Values{"username": {ra.username}, "password": {ra.pass}})
			if !strings.Contains(a.body, `value="allow"`) {
				t.Fatalf("consent remembered across the revocation: %d %s", a.status, a.body)
			}
			q := callback(t, p.submit(a, url.Values{"decision": {"allow"}}))
			if _, err := ra.exchange(q.Get("code")); err != nil {
				t.Fatalf("a new sign-in after the revocation: %v", err)
			}
		})
	}

	// Finding: a code issued before its user was disabled or deleted still
	// redeemed, and its refresh token worked.
	for _, how := range []string{"disable", "delete"} {
		t.Run("CodeDiesWithUser/"+how, func(t *testing.T) {
			ra := newRevocationApp(t, n, "code"+how)
			code := ra.signIn(t, newPages(t, n.base))
			if how == "disable" {
				n.admin(t, "POST", "/admin/users/"+ra.userID+"/disable", nil)
			} else {
				n.admin(t, "DELETE", "/admin/users/"+ra.userID, nil)
			}
			_, err := ra.exchange(code)
			wantInvalidGrant(t, "a code of a "+how+"d user", err)
		})
	}

	// A client disabled and enabled again keeps none of its codes, consents
	// or families; its newest access tokens are denied.
	t.Run("ClientRevocation", func(t *testing.T) {
		ra := newRevocationApp(t, n, "clientrev")
		p := newPages(t, n.base)
		tok, err := ra.exchange(ra.signIn(t, p))
		if err != nil {
			t.Fatal(err)
		}
		pending := ra.silent(t, p).Get("code")
		n.admin(t, "POST", "/admin/clients/"+ra.id+"/disable", nil)
		n.admin(t, "POST", "/admin/clients/"+ra.id+"/enable", nil)
		_, err = ra.exchange(pending)
		wantInvalidGrant(t, "a code of a revoked client", err)
		_, err = ra.refresh(tok.RefreshToken)
		wantInvalidGrant(t, "a family of a revoked client", err)
		if active, _ := introspectAt(t, n.base, tok.AccessToken, ra.id, ra.secret); active {
			t.Fatal("the newest access token of a revoked client is active")
		}
		if q := ra.silent(t, p); q.Get("error") != "consent_required" {
			t.Fatalf("consent survived the client's revocation: %v", q)
		}
	})

	// Finding: narrowing a client's scopes did not narrow its existing
	// grants: a refresh still returned the removed scope.
	t.Run("ScopeNarrowing", func(t *testing.T) {
		iat := n.admin(t, "POST", "/admin/initial-access-tokens", map[string]any{"uses": 1})["token"].(string)
		md := map[string]any{
			"client_name": "narrowing", "grant_types": []string{"authorization_code", "refresh_token"},
			"redirect_uris": []string{revocationRedirect}, "scope": "profile invoices:read",
		}
		status, reg := partnerCall(t, "POST", n.base+"/register", iat, md)
		if status != http.StatusCreated {
			t.Fatalf("register: %d %v", status, reg)
		}
		u := n.admin(t, "POST", "/admin/users", map[string]any{"username": "narrow", "password": "narrow's long password"})
		ra := &revocationApp{n: n, id: s(reg, "client_id"), secret: s(reg, "client_secret"), userID: u["id"].(string),
			username: "narrow", pass: "narrow's long password", verifier: oauth2.GenerateVerifier()}
		ra.conf = oauth2.Config{
			ClientID: ra.id, ClientSecret: ra.secret, RedirectURL: revocationRedirect, Scopes: []string{"profile", "invoices:read"},
			Endpoint: oauth2.Endpoint{AuthURL: n.base + "/authorize", TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		}
		p := newPages(t, n.base)
		tok, err := ra.exchange(ra.signIn(t, p))
		if err != nil {
			t.Fatal(err)
		}
		pending := ra.silent(t, p).Get("code")
		if got := tok.Extra("scope"); got != "profile invoices:read" {
			t.Fatalf("granted scope %q", got)
		}
		md["client_id"], md["scope"] = ra.id, "profile"
		if status, body := partnerCall(t, "PUT", s(reg, "registration_client_uri"), s(reg, "registration_access_token"), md); status != http.StatusOK {
			t.Fatalf("RFC 7592 update: %d %v", status, body)
		}
		for what, got := range map[string]func() (*oauth2.Token, error){
			"refresh":                      func() (*oauth2.Token, error) { return ra.refresh(tok.RefreshToken) },
			"a code issued before the cut": func() (*oauth2.Token, error) { return ra.exchange(pending) },
		} {
			nt, err := got()
			if err != nil {
				t.Fatalf("%s after narrowing: %v", what, err)
			}
			if scope := nt.Extra("scope"); scope != "profile" {
				t.Fatalf("%s after narrowing returned scope %q", what, scope)
			}
			if claims := verify(t, n, nt.AccessToken); claims.Scope != "profile" {
				t.Fatalf("%s after narrowing: access token scope %q", what, claims.Scope)
			}
		}
	})

	// Revocation racing sign-ins: password grants running while a new
	// password is set. Every family signed in with the old password is
	// dead afterwards, whether it was listed by the revocation or created
	// while it ran.
	t.Run("NewPasswordRacingSignIns", func(t *testing.T) {
		c := n.admin(t, "POST", "/admin/clients", map[string]any{
			"name": "racing", "grant_types": []string{"password", "refresh_token"}, "first_party": true,
		})
		u := n.admin(t, "POST", "/admin/users", map[string]any{"username": "racer", "password": "racer's old password"})
		conf := oauth2.Config{ClientID: c["id"].(string), ClientSecret: c["client_secret"].(string),
			Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
		const signIns = 12
		var wg sync.WaitGroup
		type signIn struct {
			refresh string
			err     error
		}
		got := make(chan signIn, signIns)
		start := make(chan struct{})
		for range signIns {
			wg.Go(func() {
				<-start
				tok, err := conf.PasswordCredentialsToken(context.Background(), "racer", "racer's old password")
				if err != nil {
					got <- signIn{err: err}
					return
				}
				got <- signIn{refresh: tok.RefreshToken}
			})
		}
		close(start)
		time.Sleep(5 * time.Millisecond) // let some sign-ins start before the change
		n.admin(t, "PUT", "/admin/users/"+u["id"].(string)+"/password", map[string]any{"password": "racer's new password"})
		wg.Wait()
		close(got)
		for res := range got {
			if res.err != nil {
				// Checked after the change: the old password is wrong now,
				// which is invalid_grant (429 invalid_grant past the limit).
				wantInvalidGrant(t, "a sign-in with the old password", res.err)
				continue
			}
			_, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: res.refresh, Expiry: time.Unix(1, 0)}).Token()
			wantInvalidGrant(t, "a family signed in with the old password", err)
		}
	})
}

func TestRevocationModelEmbedded(t *testing.T) {
	revocationModel(t, startNode(t, nil))
}

func TestRevocationModelRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	revocationModel(t, startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() }))
}

// A revocation on one node holds on every node: users are cached per node
// for the checks on every session, code and refresh, and a revocation
// announces the change, so another node drops its cached user at once.
func TestRevocationReachesEveryNode(t *testing.T) {
	r := redistest.StartStandalone(t)
	shared := func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.KeyEncryptionSecret = "a shared key encryption secret for both nodes"
	}
	a, b := startNode(t, shared), startNode(t, shared)
	ra := newRevocationApp(t, b, "everywhere")
	p := newPages(t, b.base)
	tok, err := ra.exchange(ra.signIn(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if q := ra.silent(t, p); q.Get("code") == "" { // node b has the user cached now
		t.Fatalf("prompt=none before the revocation: %v", q)
	}
	a.admin(t, "DELETE", "/admin/users/"+ra.userID+"/families", nil)
	// Announcements travel through Redis pub/sub: wait for the condition,
	// bounded well below the cache's 30 s safety net.
	deadline := time.Now().Add(5 * time.Second)
	for {
		q := ra.silent(t, p)
		if q.Get("error") == "login_required" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b still signs the user in after a sign-out on node a: %v", q)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err = ra.refresh(tok.RefreshToken)
	wantInvalidGrant(t, "a refresh on node b after the sign-out on node a", err)
}
