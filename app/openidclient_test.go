package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authserver/config"
	"authserver/store/redistest"
)

const (
	nodeRPRedirect  = "https://node-rp.test/callback"
	nodeRPSignedOut = "https://node-rp.test/signed-out"
)

// nodeRP is interop/oidc-rp.mjs running under Node: the openid-client
// relying party, spoken to in JSON lines.
type nodeRP struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     *json.Encoder
	out    *bufio.Scanner
	stderr *syncBuffer // exec's copier writes it while a failure may read it
}

// nodeRPResult is what the script prints after a whole flow.
type nodeRPResult struct {
	EndSessionEndpoint string         `json:"end_session_endpoint"`
	IDToken            string         `json:"id_token"`
	Claims             map[string]any `json:"claims"`
	UserInfo           map[string]any `json:"userinfo"`
	RefreshedIDToken   string         `json:"refreshed_id_token"`
	RefreshedClaims    map[string]any `json:"refreshed_claims"`
	EndSessionURL      string         `json:"end_session_url"`
}

// interopDir is the repo's interop/ folder with its node_modules, or the
// test ends: skipped without Node outside CI, failed under CI (where `make
// test` installs it) and whenever `make deps` has not run.
func interopDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed (CI is set, so this fails instead of skipping): run `make deps`")
		}
		t.Skip("node is not installed: run `make deps` for the Node interop tests")
	}
	dir, err := filepath.Abs(filepath.Join("..", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		t.Fatalf("interop/node_modules/openid-client is missing (%v): run `make deps`, which runs npm ci in interop/", err)
	}
	return dir
}

// startNodeRP starts the script with a 60 s limit; it is killed when the
// test ends, whatever state it is in.
func startNodeRP(t *testing.T, dir string) *nodeRP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, "node", "oidc-rp.mjs")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	rp := &nodeRP{t: t, cmd: cmd, in: json.NewEncoder(stdin), out: bufio.NewScanner(stdout), stderr: &syncBuffer{}}
	rp.out.Buffer(make([]byte, 0, 64<<10), 1<<20)
	cmd.Stderr = rp.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return rp
}

func (rp *nodeRP) send(msg any) {
	rp.t.Helper()
	if err := rp.in.Encode(msg); err != nil {
		rp.t.Fatalf("write to oidc-rp.mjs: %v (stderr: %s)", err, rp.stderr)
	}
}

// next reads the script's next line into a map.
func (rp *nodeRP) next() map[string]json.RawMessage {
	rp.t.Helper()
	if !rp.out.Scan() {
		rp.t.Fatalf("oidc-rp.mjs printed nothing more (%v); stderr: %s", rp.out.Err(), rp.stderr)
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(rp.out.Bytes(), &msg); err != nil {
		rp.t.Fatalf("oidc-rp.mjs printed %q: %v", rp.out.Bytes(), err)
	}
	return msg
}

// exit waits for the script to end and returns its exit code.
func (rp *nodeRP) exit() int {
	rp.t.Helper()
	err := rp.cmd.Wait()
	if err != nil && rp.cmd.ProcessState == nil {
		rp.t.Fatalf("oidc-rp.mjs: %v; stderr: %s", err, rp.stderr)
	}
	return rp.cmd.ProcessState.ExitCode()
}

// nodeRPFlow runs the script up to the authorization URL, signs in on the
// server's pages as username, and returns the callback URL the server sent
// the browser to (the test does not follow it: nothing listens there), the
// authorization URL, and the browser.
func nodeRPFlow(t *testing.T, n *node, rp *nodeRP, c map[string]any, username, password string) (cb, authURL string, p *pages) {
	t.Helper()
	rp.send(map[string]any{
		"issuer": n.app.Config.Issuer, "client_id": c["id"], "client_secret": c["client_secret"],
		"token_endpoint_auth_method": c["token_endpoint_auth_method"],
		"redirect_uri":               nodeRPRedirect, "scope": "openid profile email",
		"post_logout_redirect_uri": nodeRPSignedOut,
	})
	msg := rp.next()
	if e, ok := msg["error"]; ok {
		t.Fatalf("openid-client before the sign-in: %s; stderr: %s", e, rp.stderr)
	}
	if err := json.Unmarshal(msg["authorization_url"], &authURL); err != nil || !strings.HasPrefix(authURL, n.base+"/authorize?") {
		t.Fatalf("authorization URL %q (%v), want one at %s/authorize", authURL, err, n.base)
	}
	q, _ := url.Parse(authURL)
	if got := q.Query(); got.Get("code_challenge_method") != "S256" || got.Get("code_challenge") == "" ||
		got.Get("nonce") == "" || got.Get("state") == "" || got.Get("response_type") != "code" {
		t.Fatalf("openid-client's authorization request lacks PKCE S256, nonce or state: %v", got)
	}

	p = newPages(t, n.base)
	a := p.follow(p.do(http.MethodGet, authURL, nil))
	if a.status != http.StatusOK || !strings.Contains(a.body, `name="password"`) {
		t.Fatalf("want the sign-in page, got %d: %s", a.status, a.body)
	}
	a = p.submit(a, url.Values{"username": {username}, "password": {password}})
	if strings.Contains(a.body, `name="decision"`) {
		a = p.submit(a, url.Values{"decision": {"allow"}})
	}
	if a.status != http.StatusFound && a.status != http.StatusSeeOther {
		t.Fatalf("want a redirect back to the client, got %d: %s", a.status, a.body)
	}
	cb = a.header.Get("Location")
	if !strings.HasPrefix(cb, nodeRPRedirect+"?") {
		t.Fatalf("the server sent the browser to %q, want %s", cb, nodeRPRedirect)
	}
	return cb, authURL, p
}

// openIDClientNode is the Node openid-client library as the relying party
// of a confidential client on n: the code flow with PKCE, nonce and state
// through the sign-in pages, the ID Token checked as openid-client does
// (signature too), UserInfo, a refresh, and RP-Initiated Logout with the
// URL it builds. Then callbacks it must refuse.
func openIDClientNode(t *testing.T, dir string, n *node) {
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "openid-client", "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"openid", "profile", "email"}, "redirect_uris": []string{nodeRPRedirect},
		"post_logout_redirect_uris": []string{nodeRPSignedOut},
	})
	const pass = "grace's long password"
	u := n.admin(t, "POST", "/admin/users", map[string]any{"username": "grace", "password": pass,
		"name": "Grace Hopper", "email": "grace@example.com", "email_verified": true})

	t.Run("flow", func(t *testing.T) {
		rp := startNodeRP(t, dir)
		signedInBefore := time.Now().Add(-time.Second).Unix()
		cb, authURL, p := nodeRPFlow(t, n, rp, c, "grace", pass)
		rp.send(map[string]string{"callback_url": cb})
		msg := rp.next()
		if e, ok := msg["error"]; ok {
			t.Fatalf("openid-client refused the server: %s; stderr: %s", e, rp.stderr)
		}
		var res nodeRPResult
		if err := json.Unmarshal(msg["result"], &res); err != nil {
			t.Fatalf("result %s: %v", msg["result"], err)
		}
		if code := rp.exit(); code != 0 {
			t.Fatalf("oidc-rp.mjs exited %d after its result; stderr: %s", code, rp.stderr)
		}

		// openid-client checked iss, aud, exp, iat, the nonce and the
		// signature; these are the values it accepted.
		claims := res.Claims
		authTime, _ := claims["auth_time"].(float64)
		if claims["iss"] != n.app.Config.Issuer || claims["sub"] != u["id"] || !audIs(claims["aud"], c["id"].(string)) {
			t.Errorf("ID Token iss %v sub %v aud %v, want %s %v %v", claims["iss"], claims["sub"], claims["aud"], n.app.Config.Issuer, u["id"], c["id"])
		}
		if nonce, _ := claims["nonce"].(string); nonce == "" || !strings.Contains(authURL, "nonce="+url.QueryEscape(nonce)) {
			t.Errorf("ID Token nonce %v is not the one in the authorization request", claims["nonce"])
		}
		if int64(authTime) < signedInBefore || int64(authTime) > time.Now().Unix() {
			t.Errorf("auth_time %v is not the sign-in time", claims["auth_time"])
		}
		if res.UserInfo["sub"] != u["id"] || res.UserInfo["email"] != "grace@example.com" ||
			res.UserInfo["email_verified"] != true || res.UserInfo["name"] != "Grace Hopper" {
			t.Errorf("userinfo %v, want sub %v, grace@example.com (verified), Grace Hopper", res.UserInfo, u["id"])
		}
		rc := res.RefreshedClaims
		if res.RefreshedIDToken == "" || res.RefreshedIDToken == res.IDToken || rc["sub"] != claims["sub"] ||
			rc["auth_time"] != claims["auth_time"] || rc["iss"] != claims["iss"] || !audIs(rc["aud"], c["id"].(string)) {
			t.Errorf("refreshed ID Token (new: %t) claims %v, want a new one with sub %v auth_time %v", res.RefreshedIDToken != res.IDToken, rc, claims["sub"], claims["auth_time"])
		}

		// RP-Initiated Logout with the URL openid-client built.
		if res.EndSessionEndpoint != n.base+"/end_session" {
			t.Fatalf("end_session_endpoint %q, want %s/end_session", res.EndSessionEndpoint, n.base)
		}
		end, err := url.Parse(res.EndSessionURL)
		if err != nil || !strings.HasPrefix(res.EndSessionURL, res.EndSessionEndpoint+"?") {
			t.Fatalf("end-session URL %q (%v), want one at %s", res.EndSessionURL, err, res.EndSessionEndpoint)
		}
		eq := end.Query()
		state := eq.Get("state")
		if eq.Get("id_token_hint") != res.RefreshedIDToken || eq.Get("post_logout_redirect_uri") != nodeRPSignedOut || state == "" {
			t.Fatalf("end-session URL query %v, want the latest ID Token as id_token_hint, %s and a state", eq, nodeRPSignedOut)
		}
		a := p.do(http.MethodGet, res.EndSessionURL, nil)
		want := nodeRPSignedOut + "?" + url.Values{"state": {state}}.Encode()
		if loc := a.header.Get("Location"); (a.status != http.StatusFound && a.status != http.StatusSeeOther) || loc != want {
			t.Fatalf("end_session answered %d to %q, want a redirect to %s with state %q: %s", a.status, loc, nodeRPSignedOut, state, a.body)
		}
		// The session is over: prompt=none no longer signs anyone in.
		if q := callback(t, p.follow(p.do(http.MethodGet, authURL+"&prompt=none", nil))); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none after end_session: %v, want login_required", q)
		}
	})

	// A callback tampered with on its way back: openid-client refuses it
	// before it redeems the code.
	for _, tc := range []struct{ name, param, value, want string }{
		{"state", "state", "forged-state", "state"},
		{"iss", "iss", "http://attacker.test", "iss"},
	} {
		t.Run("tampered "+tc.name, func(t *testing.T) {
			rp := startNodeRP(t, dir)
			cb, _, _ := nodeRPFlow(t, n, rp, c, "grace", pass)
			tampered, err := url.Parse(cb)
			if err != nil {
				t.Fatal(err)
			}
			q := tampered.Query()
			if q.Get(tc.param) == "" {
				t.Fatalf("callback %q carries no %s", cb, tc.param)
			}
			q.Set(tc.param, tc.value)
			tampered.RawQuery = q.Encode()
			rp.send(map[string]string{"callback_url": tampered.String()})
			msg := rp.next()
			var e string
			if err := json.Unmarshal(msg["error"], &e); err != nil || !strings.Contains(e, tc.want) {
				t.Fatalf("openid-client took a callback with a forged %s: %s", tc.param, rp.out.Bytes())
			}
			if code := rp.exit(); code == 0 {
				t.Fatalf("oidc-rp.mjs exited 0 after %q", e)
			}
			t.Logf("openid-client: %s", e)
		})
	}
}

// audIs reports whether an aud claim (a string or an array) is just id.
func audIs(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		return len(a) == 1 && a[0] == id
	}
	return false
}

func TestOpenIDClientNode(t *testing.T) {
	dir := interopDir(t)
	openIDClientNode(t, dir, startNode(t, oidcScopes))
}

func TestOpenIDClientNodeRedis(t *testing.T) {
	dir := interopDir(t)
	r := redistest.StartStandalone(t)
	openIDClientNode(t, dir, startNode(t, func(c *config.Config) { oidcScopes(c); c.Redis.URL = r.URL() }))
}
