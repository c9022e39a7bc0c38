package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"authserver/server/admin"
	"authserver/store/embedded"
)

func runBackupArgs(args ...string) result {
	var out, errb bytes.Buffer
	code := runBackup(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// backup writes a whole store file, says how big and where, leaves no
// temporary file, and replaces an existing file only with --force.
func TestBackupCommand(t *testing.T) {
	s := newAdminServer(t)
	id := run1(runClients, "", withConn(s, "create", "--name", "app", "--grant-types", "client_credentials", "--fields", "id")...).ok(t).stdout
	dir := t.TempDir()
	out := filepath.Join(dir, "authserver.backup")
	r := runBackupArgs(append(s.conn(), "--out", out)...).ok(t)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("wrote %d bytes to %s\n", fi.Size(), out); r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if err := embedded.VerifyFile(out); err != nil {
		t.Fatalf("the backup is not a whole store file: %v", err)
	}
	copied, err := embedded.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := copied.GetClient(t.Context(), strings.TrimSpace(id)); err != nil {
		t.Errorf("the backup lacks the client: %v", err)
	}
	copied.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the backup", len(entries))
	}

	before, _ := os.ReadFile(out)
	runBackupArgs(append(s.conn(), "--out", out)...).failed(t, 1, "exists; pass --force")
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("a refused backup changed the existing file")
	}
	runBackupArgs(append(s.conn(), "--out", out, "--force")...).ok(t)
	if err := embedded.VerifyFile(out); err != nil {
		t.Fatalf("the forced backup: %v", err)
	}
}

// Against a Redis-backed server the command fails with the server's
// explanation and writes nothing.
func TestBackupCommandOnRedis(t *testing.T) {
	srv := httptest.NewServer(admin.New(admin.Options{Token: cliTestToken, Audit: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.backup")
	runBackupArgs("--admin-url", srv.URL, "--admin-token", cliTestToken, "--out", out).failed(t, 1, "Redis persistence")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused backup left %d files", len(entries))
	}
	runBackupArgs("--admin-url", srv.URL, "--admin-token", "wrong", "--out", out).failed(t, 1, "authserver: backup: ")
}
