package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"authserver/store/redistest"
)

// buildBinary builds cmd/authserver into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "authserver")
	out, err := exec.Command(goTool, "build", "-o", bin, "authserver/cmd/authserver").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// procNode is an `authserver serve` process.
type procNode struct {
	base, adminURL, adminToken string
}

// servingLog watches a process's stderr (JSON log lines) for the
// "serving" record and keeps the whole log for a failing test to show.
type servingLog struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	serving chan map[string]any
}

func (l *servingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var m map[string]any
		if json.Unmarshal(l.partial[:i], &m) == nil && m["msg"] == "serving" {
			select {
			case l.serving <- m:
			default:
			}
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *servingLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// startProcess runs `authserver serve` on loopback ports chosen by the
// kernel, configured through the environment as an operator would, and
// stops it when the test ends.
func startProcess(t *testing.T, bin string, env map[string]string) *procNode {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHSERVER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Two spellings of loopback: the config refuses one address for both.
	env["AUTHSERVER_LISTEN"] = "127.0.0.1:0"
	env["AUTHSERVER_ADMIN_LISTEN"] = "localhost:0"
	env["AUTHSERVER_DATA_DIR"] = t.TempDir()
	env["AUTHSERVER_SHUTDOWN_DRAIN_DELAY"] = "10ms" // the cleanup waits 5 s at most
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	log := &servingLog{serving: make(chan map[string]any, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("log of node %d:\n%s", cmd.Process.Pid, log)
		}
	})
	select {
	case m := <-log.serving:
		pub, _ := m["public"].(string)
		adm, _ := m["admin"].(string)
		return &procNode{base: "http://" + pub, adminURL: "http://" + adm, adminToken: env["AUTHSERVER_ADMIN_TOKEN"]}
	case <-exited:
		t.Fatalf("authserver exited before serving: %v\n%s", waitErr, log)
	case <-time.After(20 * time.Second):
		t.Fatalf("authserver did not start within 20s:\n%s", log)
	}
	return nil
}

// admin calls the node's admin API and decodes the JSON answer.
func (n *procNode) admin(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.adminURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+n.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %q", method, path, raw)
		}
	}
	return out
}

// Two server processes share one Redis: what is revoked on one is inactive
// on the other, for access and refresh tokens, in both directions; signing
// a user out, disabling a client and rotating its secret on one node hold
// on the other.
func TestRevocationAcrossProcesses(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.StartStandalone(t)
	env := func() map[string]string {
		return map[string]string{
			"AUTHSERVER_REDIS_URL":                r.URL(),
			"AUTHSERVER_ISSUER":                   "https://auth.example.test",
			"AUTHSERVER_KEY_ENCRYPTION_SECRET":    "one key encryption secret for every node of the test",
			"AUTHSERVER_ADMIN_TOKEN":              "one admin token for every node of the test deployment",
			"AUTHSERVER_PASSWORD_HASH_TIME":       "1",
			"AUTHSERVER_PASSWORD_HASH_MEMORY_KIB": "64",
			"AUTHSERVER_SCOPES":                   "invoices:read,profile",
		}
	}
	a, b := startProcess(t, bin, env()), startProcess(t, bin, env())
	ctx := context.Background()

	app := a.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"invoices:read"},
	})
	rs := a.admin(t, "POST", "/admin/clients", map[string]any{"name": "invoice api", "grant_types": []string{"client_credentials"}})
	appID, appSecret := app["id"].(string), app["client_secret"].(string)
	rsID, rsSecret := rs["id"].(string), rs["client_secret"].(string)
	user := a.admin(t, "POST", "/admin/users", map[string]any{"username": "max", "password": "max's long password"})

	confOn := func(n *procNode, secret string) *oauth2.Config {
		return &oauth2.Config{ClientID: appID, ClientSecret: secret,
			Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	}
	signIn := func(n *procNode) *oauth2.Token {
		t.Helper()
		tok, err := confOn(n, appSecret).PasswordCredentialsToken(ctx, "max", "max's long password")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refreshOn := func(n *procNode, secret, rt string) (*oauth2.Token, error) {
		return confOn(n, secret).TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
	}
	active := func(n *procNode, token string, asApp bool) bool {
		t.Helper()
		id, secret := rsID, rsSecret
		if asApp {
			id, secret = appID, appSecret
		}
		ok, _ := introspectAt(t, n.base, token, id, secret)
		return ok
	}

	for _, dir := range []struct {
		name          string
		issue, revoke *procNode
		check         *procNode
	}{{"a to b", a, a, b}, {"b to a", b, b, a}} {
		t.Run(dir.name, func(t *testing.T) {
			tok := signIn(dir.issue)
			if !active(dir.check, tok.AccessToken, false) || !active(dir.check, tok.RefreshToken, true) {
				t.Fatal("fresh tokens are inactive on the other node")
			}
			revokeAt(t, dir.revoke.base, tok.AccessToken, "", appID, appSecret)
			if active(dir.check, tok.AccessToken, false) {
				t.Fatal("an access token revoked on one node is active on the other")
			}
			if !active(dir.check, tok.RefreshToken, true) {
				t.Fatal("revoking the access token ended the refresh token")
			}
			revokeAt(t, dir.revoke.base, tok.RefreshToken, "", appID, appSecret)
			if active(dir.check, tok.RefreshToken, true) {
				t.Fatal("a refresh token revoked on one node is active on the other")
			}
			if _, err := refreshOn(dir.check, appSecret, tok.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Fatalf("refresh on the other node with a revoked token: %v", err)
			}
		})
	}

	t.Run("sign out everywhere", func(t *testing.T) {
		onA, onB := signIn(a), signIn(b)
		got := b.admin(t, "DELETE", "/admin/users/"+user["id"].(string)+"/families", nil)
		if got["families_revoked"] != float64(2) {
			t.Fatalf("sign out: %v", got)
		}
		for _, tok := range []*oauth2.Token{onA, onB} {
			if _, err := refreshOn(a, appSecret, tok.RefreshToken); err == nil {
				t.Fatal("a session survived sign out everywhere")
			}
			if active(a, tok.AccessToken, false) {
				t.Fatal("a signed-out session's access token is active")
			}
		}
	})

	t.Run("secret rotation and disable", func(t *testing.T) {
		tok := signIn(a)
		s1 := a.admin(t, "POST", "/admin/clients/"+appID+"/secret", map[string]any{"overlap": "1h"})["client_secret"].(string)
		var err error
		if tok, err = refreshOn(b, appSecret, tok.RefreshToken); err != nil {
			t.Fatalf("old secret inside the overlap, on the other node: %v", err)
		}
		if tok, err = refreshOn(b, s1, tok.RefreshToken); err != nil {
			t.Fatalf("new secret on the other node: %v", err)
		}
		a.admin(t, "POST", "/admin/clients/"+appID+"/disable", nil)
		// The other node learns of the change from Redis within moments;
		// polling with a call that changes nothing keeps the token intact.
		deadline := time.Now().Add(3 * time.Second)
		for {
			code, _ := formCall(t, b.base+"/introspect", url.Values{"token": {tok.AccessToken}}, appID, s1, "")
			if code == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other node still authenticates a disabled client")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := refreshOn(b, s1, tok.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("a disabled client refreshed on the other node: %v", err)
		}
		a.admin(t, "POST", "/admin/clients/"+appID+"/enable", nil)
	})
}
