package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"authserver/app"
	"authserver/config"
	"authserver/store/redistest"
)

// replyBound is how long any request may take while the store is down:
// it must fail fast, never hang.
const replyBound = 5 * time.Second

// reply is one response as the outage tests look at it.
type reply struct {
	status     int
	retryAfter string
	location   string
	body       map[string]any
	raw        string
	took       time.Duration
}

// call sends req with c (no redirects followed) and reads the reply.
func send(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), location: resp.Header.Get("Location"),
		raw: string(raw), took: time.Since(start), body: map[string]any{}}
	_ = json.Unmarshal(raw, &a.body) // pages are not JSON; body stays empty
	return a
}

func formReq(method, u string, v url.Values, user, pass string) *http.Request {
	req, _ := http.NewRequest(method, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return req
}

func getReq(u, bearer string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req
}

// wantUnavailableJSON: 503, Retry-After, {"error":"temporarily_unavailable"}.
func wantUnavailableJSON(t *testing.T, what string, a reply) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || a.body["error"] != "temporarily_unavailable" {
		t.Errorf("%s with the store down: %d, Retry-After %q, %s; want 503, Retry-After and temporarily_unavailable", what, a.status, a.retryAfter, a.raw)
	}
	if a.took > replyBound {
		t.Errorf("%s with the store down took %v, want under %v", what, a.took, replyBound)
	}
}

// readyz polls /readyz at base until it answers want, bounded in tries and
// time, and returns the last reply.
func readyz(t *testing.T, base string, want int, within time.Duration) reply {
	t.Helper()
	var a reply
	deadline := time.Now().Add(within)
	for range 200 {
		a = send(t, http.DefaultClient, getReq(base+"/readyz", ""))
		if a.status == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return a
}

func TestHealthEndpoints(t *testing.T) {
	n := startNode(t, nil)
	for _, base := range []string{n.base, n.adminURL} {
		if a := send(t, http.DefaultClient, getReq(base+"/healthz", "")); a.status != http.StatusOK {
			t.Errorf("%s/healthz: %d %s", base, a.status, a.raw)
		}
		a := send(t, http.DefaultClient, getReq(base+"/readyz", ""))
		checks, _ := a.body["checks"].(map[string]any)
		if a.status != http.StatusOK || a.body["status"] != "ready" || checks["store"] != "ok" || checks["keys"] != "ok" {
			t.Errorf("%s/readyz: %d %s", base, a.status, a.raw)
		}
	}
}

// TestRedisOutage: with Redis stopped under a running node, /readyz is 503
// naming the store, and every endpoint that needs the store answers 503
// with Retry-After and temporarily_unavailable (a redirect for /authorize
// once the client is known, the error page before) within replyBound;
// with Redis back on the same port, the same node serves again.
func TestRedisOutage(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.Registration.Open = true
		c.Registration.AllowedGrantTypes = []string{"client_credentials"}
	})
	cl := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "authorization_code", "refresh_token"}, "scopes": []string{"profile"},
		"redirect_uris": []string{"http://127.0.0.1/callback"}, "first_party": true, // no consent page in the way
	})
	id, secret := cl["id"].(string), cl["client_secret"].(string)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	tok := send(t, http.DefaultClient, formReq("POST", n.base+"/token", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice's long password"}, "scope": {"profile"},
	}, id, secret))
	refresh, _ := tok.body["refresh_token"].(string)
	if tok.status != http.StatusOK || refresh == "" {
		t.Fatalf("password grant: %d %s", tok.status, tok.raw)
	}
	browser := newSource(t, n, "127.0.0.1")
	browser.openSignIn(id)
	browser.mustSignIn("alice", "alice's long password", http.StatusSeeOther, "sign in")
	authorize := n.base + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1/callback"},
		"scope": {"profile"}, "state": {"s1"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
	}.Encode()
	if a := send(t, browser.c, getReq(authorize, "")); a.status != http.StatusFound || !strings.Contains(a.location, "code=") {
		t.Fatalf("authorize while signed in: %d %s", a.status, a.location)
	}
	// What the store holds survives the restart, so the same refresh token
	// works once Redis is back.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Client(t).Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	r.Kill()
	for _, base := range []string{n.base, n.adminURL} {
		a := readyz(t, base, http.StatusServiceUnavailable, replyBound)
		checks, _ := a.body["checks"].(map[string]any)
		if a.status != http.StatusServiceUnavailable || checks["store"] == "ok" || checks["keys"] != "ok" {
			t.Errorf("%s/readyz with Redis down: %d %s", base, a.status, a.raw)
		}
		if strings.Contains(a.raw, r.Addr) {
			t.Errorf("/readyz names the store's address: %s", a.raw)
		}
	}
	wantUnavailableJSON(t, "refresh grant", send(t, http.DefaultClient, formReq("POST", n.base+"/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, id, secret)))
	wantUnavailableJSON(t, "password grant", send(t, http.DefaultClient, formReq("POST", n.base+"/token",
		url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice's long password"}}, id, secret)))
	wantUnavailableJSON(t, "revoke", send(t, http.DefaultClient, formReq("POST", n.base+"/revoke", url.Values{"token": {refresh}}, id, secret)))
	wantUnavailableJSON(t, "introspect", send(t, http.DefaultClient, formReq("POST", n.base+"/introspect", url.Values{"token": {refresh}}, id, secret)))
	reg, _ := http.NewRequest("POST", n.base+"/register", strings.NewReader(`{"grant_types":["client_credentials"]}`))
	reg.Header.Set("Content-Type", "application/json")
	wantUnavailableJSON(t, "register", send(t, http.DefaultClient, reg))
	wantUnavailableJSON(t, "admin list users", send(t, http.DefaultClient, getReq(n.adminURL+"/admin/users", n.app.AdminToken)))

	// /authorize for a signed-in browser: the client hears of the outage at
	// its redirect URI if the node still holds the client, else (the node
	// drops its cache when it loses Redis's change feed) the user sees the
	// 503 page; either way with Retry-After, never a 500.
	a := send(t, browser.c, getReq(strings.Replace(authorize, "state=s1", "state=s2", 1), ""))
	loc, _ := url.Parse(a.location)
	redirected := a.status == http.StatusFound && loc != nil && loc.Query().Get("error") == "temporarily_unavailable" && loc.Query().Get("state") == "s2"
	paged := a.status == http.StatusServiceUnavailable && a.location == "" && strings.Contains(a.raw, "temporarily unavailable")
	if (!redirected && !paged) || a.retryAfter == "" || a.took > replyBound {
		t.Errorf("authorize with the store down: %d, Retry-After %q, Location %q, took %v", a.status, a.retryAfter, a.location, a.took)
	}
	// An unknown client cannot be checked: the page, not a redirect.
	a = send(t, browser.c, getReq(strings.Replace(authorize, "client_id="+id, "client_id=not-cached", 1), ""))
	if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || a.location != "" || !strings.Contains(a.raw, "temporarily unavailable") {
		t.Errorf("authorize for an unknown client with the store down: %d, Retry-After %q, Location %q", a.status, a.retryAfter, a.location)
	}

	start := time.Now()
	if err := r.Restart(t); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{n.base, n.adminURL} {
		if a := readyz(t, base, http.StatusOK, 10*time.Second); a.status != http.StatusOK {
			t.Fatalf("%s/readyz after Redis came back: %d %s", base, a.status, a.raw)
		}
	}
	t.Logf("ready %v after Redis restarted", time.Since(start))
	if a := send(t, http.DefaultClient, formReq("POST", n.base+"/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, id, secret)); a.status != http.StatusOK {
		t.Errorf("refresh after Redis came back: %d %s", a.status, a.raw)
	}
	if a := send(t, http.DefaultClient, getReq(n.adminURL+"/admin/users", n.app.AdminToken)); a.status != http.StatusOK {
		t.Errorf("admin list users after Redis came back: %d %s", a.status, a.raw)
	}
	if a := send(t, browser.c, getReq(authorize, "")); a.status != http.StatusFound || !strings.Contains(a.location, "code=") {
		t.Errorf("authorize after Redis came back: %d %s", a.status, a.location)
	}
}

// TestEmbeddedOutage: a closed store file is an outage too: 503, not 500.
func TestEmbeddedOutage(t *testing.T) {
	n := startNode(t, nil)
	cl := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"},
	})
	id, secret := cl["id"].(string), cl["client_secret"].(string)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	tok := send(t, http.DefaultClient, formReq("POST", n.base+"/token", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice's long password"},
	}, id, secret))
	refresh, _ := tok.body["refresh_token"].(string)
	if refresh == "" {
		t.Fatalf("password grant: %d %s", tok.status, tok.raw)
	}
	n.app.Store.Close() // App.Close closes it again, which is a no-op
	if a := send(t, http.DefaultClient, getReq(n.base+"/readyz", "")); a.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed: %d %s", a.status, a.raw)
	}
	wantUnavailableJSON(t, "refresh grant", send(t, http.DefaultClient, formReq("POST", n.base+"/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, id, secret)))
	wantUnavailableJSON(t, "admin list users", send(t, http.DefaultClient, getReq(n.adminURL+"/admin/users", n.app.AdminToken)))
}

// TestShutdownDrains: once Serve's context ends, /readyz answers 503 while
// both listeners still serve for the drain delay; then they close.
func TestShutdownDrains(t *testing.T) {
	const drain = 700 * time.Millisecond
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.PasswordHash = config.PasswordHash{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.Shutdown.DrainDelay = drain
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://" + pub.Addr().String()
	a, err := app.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, pub, adm) }()
	bases := []string{"http://" + pub.Addr().String(), "http://" + adm.Addr().String()}
	for _, base := range bases {
		if a := readyz(t, base, http.StatusOK, replyBound); a.status != http.StatusOK {
			t.Fatalf("%s/readyz before shutdown: %d %s", base, a.status, a.raw)
		}
	}

	cancel()
	stopped := time.Now()
	for _, base := range bases {
		a := readyz(t, base, http.StatusServiceUnavailable, replyBound)
		if a.status != http.StatusServiceUnavailable || a.body["status"] != "shutting_down" {
			t.Errorf("%s/readyz after cancel: %d %s", base, a.status, a.raw)
		}
		// Still serving everything else while draining.
		if h := send(t, http.DefaultClient, getReq(base+"/healthz", "")); h.status != http.StatusOK {
			t.Errorf("%s/healthz while draining: %d", base, h.status)
		}
	}
	if took := time.Since(stopped); took >= drain {
		t.Fatalf("the checks took %v, longer than the drain delay: nothing above proves the listeners stayed open", took)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(drain + 15*time.Second):
		t.Fatal("Serve did not return after the drain delay and shutdown")
	}
	if took := time.Since(stopped); took < drain {
		t.Errorf("Serve returned %v after cancel, before the %v drain delay", took, drain)
	}
	for _, base := range bases {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		_, err := c.Get(base + "/healthz")
		var op *net.OpError
		if err == nil || !errors.As(err, &op) {
			t.Errorf("%s after shutdown: %v, want a refused connection", base, err)
		}
	}
}
