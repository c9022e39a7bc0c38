package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"authserver/audit"
)

func record(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON record: %v: %s", err, buf)
	}
	buf.Reset()
	return m
}

func TestEventShape(t *testing.T) {
	var buf bytes.Buffer
	a := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := audit.WithRequestID(context.Background(), "req-1")
	id := strings.Repeat("ab", 16)
	a.Warn(ctx, audit.ClientAuthFailed, audit.ClientID(id), audit.UserID("u1"), audit.Reason("wrong secret"))
	m := record(t, &buf)
	want := map[string]any{"msg": "audit", "level": "WARN", "event": "client_auth_failed", "request_id": "req-1",
		"client_id": id, "user_id": "u1", "reason": "wrong secret"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (record %v)", k, m[k], v, m)
		}
	}

	// No request id in the context: no request_id attribute.
	a.Info(context.Background(), audit.AdminAction)
	if m := record(t, &buf); m["request_id"] != nil || m["level"] != "INFO" {
		t.Errorf("record %v", m)
	}
}

// A caller that sends its secret as client_id, or code that names an
// attribute like a credential, still writes no secret.
func TestNeverASecret(t *testing.T) {
	var buf bytes.Buffer
	a := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	secret := "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6"
	a.Warn(context.Background(), audit.ClientAuthFailed, audit.ClientID(secret),
		slog.String("client_secret", secret), slog.String("refresh_token", secret),
		slog.String("password", secret), slog.String("code", secret), slog.String("code_verifier", secret))
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Fatalf("secret written: %s", out)
	}
	if m := record(t, &buf); m["client_id_malformed"] != true || m["client_id"] != nil {
		t.Fatalf("malformed client id: %v", m)
	}
	for _, bad := range []string{"", "ABABABABABABABABABABABABABABABAB", strings.Repeat("a", 33), strings.Repeat("g", 32)} {
		a.Info(context.Background(), audit.AdminAction, audit.ClientID(bad))
		if m := record(t, &buf); m["client_id"] != nil {
			t.Errorf("client id %q written", bad)
		}
	}
}

// A username that can never be valid (perhaps a password in the wrong
// field) is not written, whether it comes as Username or as a plain
// "username" attribute; a valid one is written normalized.
func TestUsernameOnlyWhenWellFormed(t *testing.T) {
	var buf bytes.Buffer
	a := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	const typed = "my secret pass phrase!"
	for _, attr := range []any{audit.Username(typed), slog.String("username", typed), audit.Username(strings.Repeat("a", 65)), audit.Username("")} {
		a.Warn(context.Background(), audit.Lockout, attr)
		if out := buf.String(); strings.Contains(out, typed) || strings.Contains(out, "aaaa") {
			t.Errorf("malformed username written: %s", out)
		}
		if m := record(t, &buf); m["username_malformed"] != true || m["username"] != nil {
			t.Errorf("record %v", m)
		}
	}
	a.Warn(context.Background(), audit.Lockout, audit.Username("Kim.Lee@example"))
	if m := record(t, &buf); m["username"] != "kim.lee@example" || m["username_malformed"] != nil {
		t.Errorf("valid username: %v", m)
	}
}

func TestNilLoggerDiscards(t *testing.T) {
	audit.New(nil).Warn(context.Background(), audit.Lockout) // must not panic
}

func TestRequestIDMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(audit.RequestID())
	var seen string
	r.GET("/", func(c *gin.Context) { seen = audit.RequestIDFrom(c.Request.Context()) })

	call := func(in string) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if in != "" {
			req.Header.Set(audit.RequestIDHeader, in)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		out := rec.Header().Get(audit.RequestIDHeader)
		if out != seen {
			t.Fatalf("response id %q, context id %q", out, seen)
		}
		return out
	}
	if got := call("edge-7f3a.2:1"); got != "edge-7f3a.2:1" {
		t.Errorf("a sane inbound id was replaced: %q", got)
	}
	a, b := call(""), call("")
	if len(a) != 32 || a == b {
		t.Errorf("generated ids %q %q", a, b)
	}
	for _, bad := range []string{"has space", `quo"te`, "new\nline", strings.Repeat("x", 129), "{\"json\":1}"} {
		if got := call(bad); got == bad || len(got) != 32 {
			t.Errorf("inbound id %q accepted as %q", bad, got)
		}
	}
}
