package app_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeWalkthrough returns the shell block of the README's "Five minutes
// with it" that an operator types in the second terminal.
func readmeWalkthrough(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Five minutes with it\n")
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := strings.Split(section, "```sh\n")
	if !ok || len(blocks) < 3 {
		t.Fatal("README: no second sh block under \"## Five minutes with it\"")
	}
	block, _, ok := strings.Cut(blocks[2], "\n```")
	if !ok || !strings.Contains(block, "authserver perform") {
		t.Fatalf("README: the walk-through block is not the one expected:\n%s", block)
	}
	return block
}

// The README's walk-through, run with bash as written against a fresh
// `authserver serve` in an empty directory: only the public URL changes
// (the server listens on a free port), and the admin URL and issuer reach
// the CLI through the environment as an operator could set them.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	script := readmeWalkthrough(t)
	dir := t.TempDir()
	bin, err := os.ReadFile(buildBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	// In the directory itself, as the README's `go build -o authserver` leaves it.
	if err := os.WriteFile(filepath.Join(dir, "authserver"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("./authserver", "serve")
	srv.Dir = dir
	srv.Env = cleanEnv("AUTHSERVER_LISTEN=127.0.0.1:0", "AUTHSERVER_ADMIN_LISTEN=localhost:0")
	log := &servingLog{serving: make(chan map[string]any, 1)}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	defer func() {
		srv.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log)
		}
	}()
	var base, adminURL string
	select {
	case m := <-log.serving:
		pub, _ := m["public"].(string)
		adm, _ := m["admin"].(string)
		base, adminURL = "http://"+pub, "http://"+adm
	case <-exited:
		t.Fatalf("authserver exited before serving")
	case <-time.After(20 * time.Second):
		t.Fatalf("authserver did not start within 20s")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-e", "-u", "-o", "pipefail", "-c", strings.ReplaceAll(script, "http://localhost:8080", base))
	sh.Dir = dir
	sh.Env = cleanEnv("AUTHSERVER_ADMIN_URL="+adminURL, "AUTHSERVER_ISSUER="+base)
	var out, errb bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &errb
	if err := sh.Run(); err != nil {
		t.Fatalf("walk-through: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	got := out.String()
	// Token responses: curl client_credentials, password, refresh and
	// perform client-credentials (the captured ones print one field).
	if n := strings.Count(got, `"access_token"`); n != 4 || strings.Contains(got, `"error"`) {
		t.Errorf("want 4 token responses and no error, got %d:\n%s\nstderr:\n%s", n, got, errb.String())
	}
	for _, want := range []string{`"expires_in": 900`, `"scope": "invoices:read"`, `"username": "alice"`, `"keys"`, `"token_endpoint"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
}

// cleanEnv is this process's environment without AUTHSERVER_* variables,
// plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHSERVER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
