package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"authserver/config"
	"authserver/store/redistest"
)

// chromiumPath finds Debian's Chromium. Without it the browser tests fail:
// they are part of the suite, and `make test` installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("Chromium is not installed (no /usr/bin/chromium): run `make test`, which installs it with the other test dependencies")
	return ""
}

// newChrome starts a headless Chromium for the test and returns its tab.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), // no internet here: do not try
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser and owns it: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// steps runs browser actions with a deadline, so a page that never shows
// fails the test instead of hanging it.
func steps(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// callbackApp is the client's redirect endpoint, served by the test on a
// loopback port (the client registers http://127.0.0.1/callback; RFC 8252
// lets the port vary).
type callbackApp struct {
	*httptest.Server
	got chan url.Values
}

func newCallbackApp(t *testing.T) *callbackApp {
	c := &callbackApp{got: make(chan url.Values, 4)}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		c.got <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Back at the app</title><p id="back">back at the app</p>`)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *callbackApp) wait(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-c.got:
		return q
	case <-time.After(15 * time.Second):
		t.Fatal("the browser never reached the client's callback")
		return nil
	}
}

// signInOnPage fills the sign-in page shown in the tab and submits it,
// then waits for sel (the next page's element, or "" for none).
func signInOnPage(t *testing.T, ctx context.Context, username, password, sel string) {
	t.Helper()
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SetValue(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	}
	if sel != "" {
		actions = append(actions, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	steps(t, ctx, "sign in as "+username, actions...)
}

// shots saves screenshots of the current page on a desktop and a phone
// viewport under screenshots/ (git-ignored).
func shots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := filepath.Join("..", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, vp := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}} {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(2)}
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		steps(t, ctx, "resize", chromedp.EmulateViewport(vp.w, vp.h, opts...))
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+vp.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	steps(t, ctx, "reset viewport", chromedp.ResetViewport())
}

// browserFlow drives the authorization code flow in Chromium: a wrong
// password, sign-in, consent, the code at the client's callback exchanged
// and refreshed with golang.org/x/oauth2; then a remembered consent that
// skips the page, and a Deny.
func browserFlow(t *testing.T, n *node, screenshots bool) {
	ctx := context.Background()
	chrome := newChrome(t)
	cb := newCallbackApp(t)
	app := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "Photo Printer", "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"profile", "invoices:read"}, "redirect_uris": []string{"http://127.0.0.1/callback"},
	})
	carol := n.admin(t, "POST", "/admin/users", map[string]any{"username": "carol", "password": "carol's long password"})
	conf := oauth2.Config{
		ClientID: app["id"].(string), ClientSecret: app["client_secret"].(string),
		Endpoint:    oauth2.Endpoint{AuthURL: n.base + "/authorize", TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: cb.URL + "/callback", Scopes: []string{"profile", "invoices:read"},
	}
	verifier := oauth2.GenerateVerifier()

	steps(t, chrome, "open the sign-in page",
		chromedp.Navigate(conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS("#username")))
	if got := text(t, chrome, "main"); !strings.Contains(got, "Photo Printer") {
		t.Fatalf("the sign-in page should name the client: %q", got)
	}
	if screenshots {
		shots(t, chrome, "login")
	}

	steps(t, chrome, "sign in with a wrong password",
		chromedp.SendKeys(chromedp.CSS("#username"), "carol"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".alert")))
	if got := text(t, chrome, ".alert"); !strings.Contains(got, "Invalid username or password") {
		t.Fatalf("wrong password message %q", got)
	}
	if screenshots {
		shots(t, chrome, "login-error")
	}

	steps(t, chrome, "sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), "carol's long password"), // the username is kept
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#allow")))
	if got := text(t, chrome, "main"); !strings.Contains(got, "Photo Printer") || !strings.Contains(got, "carol") || !strings.Contains(got, "invoices:read") {
		t.Fatalf("the consent page should name the client, the user and the scopes: %q", got)
	}
	if screenshots {
		shots(t, chrome, "consent")
	}

	steps(t, chrome, "allow", chromedp.Click(chromedp.CSS("#allow")))
	q := cb.wait(t)
	if q.Get("state") != "state-1" || q.Get("iss") != n.app.Config.Issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if claims := verify(t, n, tok.AccessToken); claims.Subject != carol["id"] || claims.Scope != "profile invoices:read" {
		t.Fatalf("claims %+v", claims)
	}
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("a second exchange of the code: %v", err)
	}
	// The replay revoked the first exchange's family; a fresh sign-in
	// below is needed for the refresh check.

	// Remembered consent: straight to the client, the page is skipped.
	verifier = oauth2.GenerateVerifier()
	steps(t, chrome, "authorize again", chromedp.Navigate(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier))))
	q = cb.wait(t)
	if q.Get("state") != "state-2" || q.Get("code") == "" {
		t.Fatalf("remembered consent: %v", q)
	}
	if loc, _ := chromedp.Run(chrome, chromedp.Location()); !strings.HasPrefix(loc, cb.URL) {
		t.Fatalf("the browser should be back at the client, is at %s", loc)
	}
	tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || verify(t, n, next.AccessToken).Subject != carol["id"] {
		t.Fatalf("refresh did not rotate: %+v", next)
	}

	// An unregistered redirect URI: the browser stays on the error page.
	evil := conf
	evil.RedirectURL = "http://127.0.0.1.evil.test/callback"
	steps(t, chrome, "open an unregistered redirect URI",
		chromedp.Navigate(evil.AuthCodeURL("state-x", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(".alert")))
	if loc, _ := chromedp.Run(chrome, chromedp.Location()); !strings.HasPrefix(loc, n.base+"/authorize?") {
		t.Fatalf("the browser left the error page for %s", loc)
	}
	if screenshots {
		shots(t, chrome, "error")
	}

	// Deny, for another client: access_denied back at its callback.
	other := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "Other App", "grant_types": []string{"authorization_code"},
		"scopes": []string{"profile"}, "redirect_uris": []string{"http://127.0.0.1/callback"},
	})
	otherConf := conf
	otherConf.ClientID, otherConf.ClientSecret, otherConf.Scopes = other["id"].(string), other["client_secret"].(string), []string{"profile"}
	steps(t, chrome, "deny",
		chromedp.Navigate(otherConf.AuthCodeURL("state-3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		chromedp.WaitVisible(chromedp.CSS("#deny")),
		chromedp.Click(chromedp.CSS("#deny")))
	q = cb.wait(t)
	if q.Get("error") != "access_denied" || q.Get("state") != "state-3" || q.Get("iss") != n.app.Config.Issuer || q.Get("code") != "" {
		t.Fatalf("deny: %v", q)
	}
}

func TestBrowserAuthorizationCodeEmbedded(t *testing.T) {
	browserFlow(t, startNode(t, nil), true)
}

func TestBrowserAuthorizationCodeRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	browserFlow(t, startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() }), false)
}

// OpenID Connect in Chromium: sign-in and consent with openid and a nonce,
// then prompt=none getting a code with no page at all, then max_age=0
// bringing the sign-in page back (login_hint prefilled) and a later
// auth_time.
func TestBrowserOpenIDPromptNoneAndMaxAge(t *testing.T) {
	n := startNode(t, oidcScopes)
	ctx := context.Background()
	chrome := newChrome(t)
	cb := newCallbackApp(t)
	provider, err := oidc.NewProvider(ctx, n.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "Photo Printer", "grant_types": []string{"authorization_code"},
		"scopes": []string{"openid", "profile"}, "redirect_uris": []string{"http://127.0.0.1/callback"},
	})
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "erin", "password": "erin's long password"})
	conf := oauth2.Config{
		ClientID: c["id"].(string), ClientSecret: c["client_secret"].(string),
		Endpoint: provider.Endpoint(), RedirectURL: cb.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	rp := &browserRP{conf: conf, verifier: provider.Verifier(&oidc.Config{ClientID: conf.ClientID}), chrome: chrome}
	authorize := func(what string, opts ...oauth2.AuthCodeOption) { t.Helper(); rp.authorize(t, what, opts...) }
	redeem := func() int64 {
		t.Helper()
		idTok, _ := rp.redeem(t, cb.wait(t))
		var claims struct {
			AuthTime int64 `json:"auth_time"`
		}
		if err := idTok.Claims(&claims); err != nil || claims.AuthTime == 0 {
			t.Fatalf("ID Token auth_time %d (%v)", claims.AuthTime, err)
		}
		return claims.AuthTime
	}

	authorize("open the sign-in page")
	signInOnPage(t, chrome, "erin", "erin's long password", "#allow")
	steps(t, chrome, "allow", chromedp.Click(chromedp.CSS("#allow")))
	signedIn := redeem()

	authorize("prompt=none", oauth2.SetAuthURLParam("prompt", "none"))
	if silent := redeem(); silent != signedIn {
		t.Fatalf("prompt=none: auth_time %d, want %d", silent, signedIn)
	}
	if loc, _ := chromedp.Run(chrome, chromedp.Location()); !strings.HasPrefix(loc, cb.URL) {
		t.Fatalf("prompt=none left the browser at %s", loc)
	}

	time.Sleep(1100 * time.Millisecond) // auth_time is in seconds
	authorize("max_age=0", oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("login_hint", "erin"))
	steps(t, chrome, "the sign-in page again", chromedp.WaitVisible(chromedp.CSS("#password")))
	if v, err := chromedp.Run(chrome, chromedp.Value(chromedp.CSS("#username"))); err != nil || v != "erin" {
		t.Fatalf("login_hint did not prefill the username: %q %v", v, err)
	}
	signInOnPage(t, chrome, "erin", "erin's long password", "")
	if fresh := redeem(); fresh <= signedIn {
		t.Fatalf("max_age=0: auth_time %d did not move on from %d", fresh, signedIn)
	}
}

// logoutReceiver is a client's back-channel logout endpoint on loopback:
// it hands on every logout_token posted to it.
func logoutReceiver(t *testing.T) (*httptest.Server, chan string) {
	got := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		got <- r.PostForm.Get("logout_token")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// RP-Initiated Logout in Chromium, with back-channel delivery: an ID Token
// as id_token_hint ends the session at once and returns the browser to the
// registered post_logout_redirect_uri with its state, the client's
// back-channel endpoint gets a signed logout token, and prompt=none then
// answers login_required. Without a hint the confirmation page is shown and
// the session stands until its button is clicked.
func TestBrowserEndSessionBackchannel(t *testing.T) {
	n := startNode(t, func(c *config.Config) { oidcScopes(c); c.Fetch.AllowLoopback = true })
	ctx := context.Background()
	chrome := newChrome(t)
	cb := newCallbackApp(t)
	receiver, logoutTokens := logoutReceiver(t)
	provider, err := oidc.NewProvider(ctx, n.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var disco struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := provider.Claims(&disco); err != nil || disco.JWKS == "" {
		t.Fatalf("jwks_uri %q: %v", disco.JWKS, err)
	}
	keySet := oidc.NewRemoteKeySet(ctx, disco.JWKS)
	signedOut := cb.URL + "/signed-out"
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "Photo Printer", "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"openid", "profile"}, "redirect_uris": []string{"http://127.0.0.1/callback"},
		"post_logout_redirect_uris": []string{signedOut},
		"backchannel_logout_uri":    receiver.URL + "/backchannel",
	})
	frank := n.admin(t, "POST", "/admin/users", map[string]any{"username": "frank", "password": "frank's long password"})
	conf := oauth2.Config{
		ClientID: c["id"].(string), ClientSecret: c["client_secret"].(string),
		Endpoint: provider.Endpoint(), RedirectURL: cb.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	rp := &browserRP{conf: conf, verifier: provider.Verifier(&oidc.Config{ClientID: conf.ClientID}), chrome: chrome}
	authorize := func(what string, opts ...oauth2.AuthCodeOption) { t.Helper(); rp.authorize(t, what, opts...) }
	redeemQ := func(q url.Values) string {
		t.Helper()
		idTok, raw := rp.redeem(t, q)
		if idTok.Subject != frank["id"] {
			t.Fatalf("ID Token sub %q, want %v", idTok.Subject, frank["id"])
		}
		return raw
	}
	redeem := func() string { t.Helper(); return redeemQ(cb.wait(t)) }
	promptNone := func() url.Values {
		t.Helper()
		authorize("prompt=none", oauth2.SetAuthURLParam("prompt", "none"))
		return cb.wait(t)
	}
	// logoutToken waits (bounded) for the next logout token and checks it.
	logoutToken := func() {
		t.Helper()
		var raw string
		select {
		case raw = <-logoutTokens:
		case <-time.After(10 * time.Second):
			t.Fatal("no logout token reached the back-channel endpoint within 10s")
		}
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		payload, err := keySet.VerifySignature(vctx, raw)
		if err != nil {
			t.Fatalf("logout token signature: %v", err)
		}
		head, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Typ string `json:"typ"`
		}
		var claims struct {
			Iss    string                     `json:"iss"`
			Sub    string                     `json:"sub"`
			Aud    any                        `json:"aud"`
			Nonce  *string                    `json:"nonce"`
			Events map[string]json.RawMessage `json:"events"`
		}
		if err := json.Unmarshal(head, &h); err != nil || h.Typ != "logout+jwt" {
			t.Fatalf("logout token header %s (%v)", head, err)
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		aud := fmt.Sprint(claims.Aud)
		if claims.Iss != n.app.Config.Issuer || claims.Sub != frank["id"] || (aud != conf.ClientID && aud != "["+conf.ClientID+"]") ||
			claims.Nonce != nil || claims.Events["http://schemas.openid.net/event/backchannel-logout"] == nil {
			t.Fatalf("logout token claims %s", payload)
		}
	}

	authorize("open the sign-in page")
	signInOnPage(t, chrome, "frank", "frank's long password", "#allow")
	steps(t, chrome, "allow", chromedp.Click(chromedp.CSS("#allow")))
	idToken := redeem()

	end := n.base + "/end_session?" + url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {signedOut}, "state": {"bye 1"},
	}.Encode()
	steps(t, chrome, "end the session with a hint", chromedp.Navigate(end))
	// The receiver of signedOut is the callback app's server: 404 there is
	// fine, the location is what counts.
	lctx, cancel := context.WithTimeout(chrome, 5*time.Second)
	loc, err := chromedp.Run(lctx, chromedp.Location())
	cancel()
	if err != nil || loc != signedOut+"?state=bye+1" {
		t.Fatalf("after end_session the browser is at %q (%v), want %s?state=bye+1", loc, err, signedOut)
	}
	logoutToken()
	if q := promptNone(); q.Get("error") != "login_required" || q.Get("state") != "st" {
		t.Fatalf("prompt=none after logout: %v", q)
	}

	// No hint: a confirmation page, and the session stands until it is used.
	authorize("sign in again")
	signInOnPage(t, chrome, "frank", "frank's long password", "")
	redeem()
	steps(t, chrome, "end the session without a hint",
		chromedp.Navigate(n.base+"/end_session"),
		chromedp.WaitVisible(chromedp.CSS("#signout")))
	if got := text(t, chrome, "main"); !strings.Contains(got, "frank") {
		t.Fatalf("the confirmation page should name the user: %q", got)
	}
	q := promptNone()
	if q.Get("code") == "" {
		t.Fatalf("the session should stand before the confirmation: %v", q)
	}
	redeemQ(q)
	select {
	case raw := <-logoutTokens:
		t.Fatalf("a logout token before the confirmation: %s", raw)
	default:
	}
	steps(t, chrome, "confirm the sign-out",
		chromedp.Navigate(n.base+"/end_session"),
		chromedp.WaitVisible(chromedp.CSS("#signout")),
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitNotPresent(chromedp.CSS("#signout")))
	if got := text(t, chrome, "main"); !strings.Contains(got, "signed out") {
		t.Fatalf("after the confirmation: %q", got)
	}
	logoutToken()
	if q := promptNone(); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none after the confirmed logout: %v", q)
	}
}

// browserRP is a relying party whose user agent is a Chromium tab: each
// authorization request it opens there carries a fresh nonce and PKCE
// verifier, and redeem checks the ID Token as go-oidc does, nonce included.
type browserRP struct {
	conf        oauth2.Config
	verifier    *oidc.IDTokenVerifier
	chrome      context.Context
	nonce, pkce string
}

func (rp *browserRP) authorize(t *testing.T, what string, opts ...oauth2.AuthCodeOption) {
	t.Helper()
	rp.nonce, rp.pkce = "nonce-"+oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	opts = append(opts, oidc.Nonce(rp.nonce), oauth2.S256ChallengeOption(rp.pkce))
	steps(t, rp.chrome, what, chromedp.Navigate(rp.conf.AuthCodeURL("st", opts...)))
}

// redeem exchanges the code of the callback query q and returns the
// verified ID Token and its raw form.
func (rp *browserRP) redeem(t *testing.T, q url.Values) (*oidc.IDToken, string) {
	t.Helper()
	ctx := context.Background()
	tok, err := rp.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(rp.pkce))
	if err != nil {
		t.Fatalf("exchange (%v): %v", q, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idTok, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID Token: %v", err)
	}
	if idTok.Nonce != rp.nonce {
		t.Fatalf("ID Token nonce %q, want %q", idTok.Nonce, rp.nonce)
	}
	return idTok, raw
}
