package admin_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"authserver/server/admin"
	"authserver/store/embedded"
)

// GET /admin/backup answers the whole store file with its length, and the
// copy opens as a store holding what the API wrote.
func TestBackupStreamsTheStore(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createClient(confidential())
	rec := e.do("GET", "/admin/backup", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("backup: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if n, err := strconv.Atoi(rec.Header().Get("Content-Length")); err != nil || n != rec.Body.Len() {
		t.Fatalf("Content-Length %q for a %d-byte body", rec.Header().Get("Content-Length"), rec.Body.Len())
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := embedded.VerifyFile(path); err != nil {
		t.Fatalf("the backup is not a whole store file: %v", err)
	}
	copied, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	if _, err := copied.GetClient(t.Context(), id); err != nil {
		t.Fatalf("the backup lacks the client: %v", err)
	}
	if !strings.Contains(e.audit.String(), `"action":"backup"`) {
		t.Errorf("no audit record of the backup:\n%s", e.audit)
	}
}

// A closed (failed) store is an outage: 503 with Retry-After, in JSON.
func TestBackupStoreOutageIs503(t *testing.T) {
	e := newEnv(t)
	e.store.Close()
	rec := e.do("GET", "/admin/backup", nil)
	expectError(t, rec, http.StatusServiceUnavailable, "temporarily_unavailable", "")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// A node on Redis says how Redis is backed up instead.
func TestBackupOnRedisExplains(t *testing.T) {
	h := admin.New(admin.Options{Token: testToken, Audit: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	req := httptest.NewRequest("GET", "/admin/backup", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	expectError(t, rec, http.StatusNotImplemented, "not_implemented", "")
	if body := rec.Body.String(); !strings.Contains(body, "Redis") || !strings.Contains(body, "AOF") {
		t.Errorf("the answer does not point at Redis persistence: %s", body)
	}
}
