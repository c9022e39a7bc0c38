package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/clients"
	"authserver/keys"
	"authserver/resources"
	"authserver/server/admin"
	"authserver/store/embedded"
	"authserver/tokens"
	"authserver/users"
)

const cliTestToken = "cli-test-token"

// adminServer is an admin API over a real embedded store, for the
// management commands to talk to.
type adminServer struct {
	url     string
	store   *embedded.Store
	clients *clients.Registry
	users   *users.Service
}

func newAdminServer(t *testing.T) *adminServer {
	t.Helper()
	gin.SetMode(gin.TestMode)
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, bytes.Repeat([]byte("k"), 32), "ES256", keys.Settings{
		PublishAhead: 6 * time.Minute, TokenLifetime: 15 * time.Minute, RetireMargin: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := clients.NewRegistry(st, []string{"read", "write"})
	us := users.NewService(st, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1})
	srv := httptest.NewServer(admin.New(admin.Options{
		Token: cliTestToken, Clients: reg, Users: us, Families: st, Keys: km,
		Audit: slog.New(slog.DiscardHandler), Revoker: tokens.NewRevoker(st, us, reg, time.Minute, time.Minute, nil),
		Backup: st, Resources: resources.NewRegistry(st, nil, 0, nil),
	}))
	t.Cleanup(srv.Close)
	return &adminServer{url: srv.URL, store: st, clients: reg, users: us}
}

// conn returns the connection flags for s.
func (s *adminServer) conn() []string {
	return []string{"--admin-url", s.url, "--admin-token", cliTestToken}
}

type result struct {
	code           int
	stdout, stderr string
}

// json decodes stdout as one JSON object.
func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r.stdout)
	}
	return m
}

func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	return r
}

// failed checks a non-zero exit with one line on stderr containing want.
func (r result) failed(t *testing.T, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not contain %q", r.stderr, want)
	}
	if !strings.HasPrefix(r.stderr, "authserver: ") {
		t.Errorf("stderr %q does not start with \"authserver: \"", r.stderr)
	}
}

type runFunc func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

func run1(fn runFunc, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := fn(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// withConn puts the connection flags after the subcommand name.
func withConn(s *adminServer, sub string, rest ...string) []string {
	return append(append([]string{sub}, s.conn()...), rest...)
}

// runEnv runs a group's command with env as the whole environment.
func runEnv(group string, cmds []subcommand, env map[string]string, args ...string) result {
	var out, errb bytes.Buffer
	x := cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code := dispatch(x, group, cmds, args)
	return result{code, out.String(), errb.String()}
}

func TestConnectionSettings(t *testing.T) {
	s := newAdminServer(t)

	t.Run("environment", func(t *testing.T) {
		r := runEnv("clients", clientCommands(), map[string]string{
			"AUTHSERVER_ADMIN_URL": s.url, "AUTHSERVER_ADMIN_TOKEN": cliTestToken,
		}, "list").ok(t)
		if _, ok := r.json(t)["clients"]; !ok {
			t.Errorf("list: %s", r.stdout)
		}
	})
	t.Run("flags beat environment", func(t *testing.T) {
		runEnv("clients", clientCommands(), map[string]string{
			"AUTHSERVER_ADMIN_URL": "http://127.0.0.1:1", "AUTHSERVER_ADMIN_TOKEN": "stale",
		}, withConn(s, "list")...).ok(t)
	})
	t.Run("token file in data dir flag", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, admin.TokenFile), []byte(cliTestToken+"\n"), 0o600)
		runEnv("clients", clientCommands(), nil, "list", "--admin-url", s.url, "--data-dir", dir).ok(t)
	})
	t.Run("token file in data dir env", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, admin.TokenFile), []byte(cliTestToken), 0o600)
		runEnv("keys", keyCommands(), map[string]string{"AUTHSERVER_ADMIN_URL": s.url, "AUTHSERVER_DATA_DIR": dir}, "rotate").ok(t)
	})
	t.Run("no token anywhere", func(t *testing.T) {
		r := runEnv("clients", clientCommands(), nil, "list", "--admin-url", s.url, "--data-dir", t.TempDir())
		r.failed(t, 1, "no admin token")
	})
	t.Run("wrong token", func(t *testing.T) {
		r := run1(runClients, "", "list", "--admin-url", s.url, "--admin-token", "wrong")
		r.failed(t, 1, "authserver: list clients: a valid admin bearer token is required")
		if r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("want one line on stderr and nothing on stdout; got %q / %q", r.stdout, r.stderr)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		r := run1(runUsers, "", "list", "--admin-url", "http://127.0.0.1:1", "--admin-token", "x")
		r.failed(t, 1, "cannot reach the admin API at http://127.0.0.1:1")
	})
	t.Run("bad URL", func(t *testing.T) {
		r := run1(runUsers, "", "list", "--admin-url", "127.0.0.1:8081", "--admin-token", "x")
		r.failed(t, 1, "invalid admin URL")
	})
}

func TestUsageAndDispatch(t *testing.T) {
	for name, fn := range map[string]runFunc{"clients": runClients, "users": runUsers, "keys": runKeys, "resources": runResources} {
		if r := run1(fn, "", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: authserver "+name) {
			t.Errorf("%s -h: exit %d, stdout %q", name, r.code, r.stdout)
		}
		if r := run1(fn, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "usage:") {
			t.Errorf("%s frobnicate: exit %d, stderr %q", name, r.code, r.stderr)
		}
		if r := run1(fn, ""); r.code != 2 || !strings.Contains(r.stderr, "usage:") {
			t.Errorf("%s with no command: exit %d, stderr %q", name, r.code, r.stderr)
		}
	}
	if r := run1(runClients, "", "get", "-h"); r.code != 0 || !strings.Contains(r.stdout, "-admin-url") || r.stderr != "" {
		t.Errorf("clients get -h: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := run1(runClients, "", "get", "--no-such-flag", "x"); r.code != 2 || !strings.Contains(r.stderr, "no-such-flag") || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("unknown flag: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run1(runClients, "", "get"); r.code != 2 || !strings.Contains(r.stderr, "missing ID") {
		t.Errorf("get without ID: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run1(runClients, "", "list", "extra"); r.code != 2 || !strings.Contains(r.stderr, `unexpected argument "extra"`) {
		t.Errorf("list with an argument: exit %d, stderr %q", r.code, r.stderr)
	}
	// An empty ID must not turn "get" into a list of every client.
	if r := run1(runClients, "", "get", "--admin-url", "http://127.0.0.1:1", "--admin-token", "x", ""); r.code != 2 || !strings.Contains(r.stderr, "empty ID") {
		t.Errorf("get with an empty ID: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"read write":       "read|write",
		"read,write":       "read|write",
		" read , write  x": "read|write|x",
	} {
		if got := strings.Join(splitList(in, true), "|"); got != want {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
	if got := splitList("https://a.example/cb x,https://b.example/cb", false); len(got) != 2 || got[0] != "https://a.example/cb x" {
		t.Errorf("comma-only split: %q", got)
	}
}
