package admin_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/registration"
	"authserver/server/admin"
	"authserver/tokens"
	"authserver/users"
)

// newIATEnv is newEnv with initial access tokens wired in.
func newIATEnv(t *testing.T) *env {
	e := newEnv(t)
	svc := registration.New(registration.Config{Issuer: "https://as.test", AllowedGrantTypes: clients.KnownGrantTypes}, e.clients, e.store, nil, nil)
	us := users.NewService(e.store, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1})
	e.h = admin.New(admin.Options{
		Token: testToken, Clients: e.clients, Users: us, Revoker: tokens.NewRevoker(e.store, us, e.clients, time.Minute, time.Minute, nil),
		Families: e.store, Keys: e.keys, Audit: slog.New(slog.NewJSONHandler(e.audit, nil)), InitialAccessTokens: svc,
	})
	return e
}

func (e *env) iatUses(token string) int64 {
	e.t.Helper()
	it, err := e.store.LookupInitialAccessToken(context.Background(), clients.HashSecret(token), time.Now())
	if err != nil {
		e.t.Fatalf("the issued token is not usable: %v", err)
	}
	return it.UsesLeft
}

func TestInitialAccessTokens(t *testing.T) {
	e := newIATEnv(t)

	// Defaults: 24h, one use; the body is optional.
	m := expect(t, e.do("POST", "/admin/initial-access-tokens", nil), http.StatusCreated)
	tok, _ := m["token"].(string)
	exp, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
	if err != nil || len(tok) < 43 || m["uses"] != float64(1) || e.iatUses(tok) != 1 {
		t.Fatalf("default token: %v (%v)", m, err)
	}
	if d := time.Until(exp); d < 23*time.Hour || d > 24*time.Hour {
		t.Fatalf("default expiry in %v", d)
	}

	m = expect(t, e.do("POST", "/admin/initial-access-tokens", map[string]any{"ttl": "90m", "uses": 5}), http.StatusCreated)
	tok2, _ := m["token"].(string)
	exp, _ = time.Parse(time.RFC3339Nano, m["expires_at"].(string))
	if tok2 == tok || m["uses"] != float64(5) || e.iatUses(tok2) != 5 || time.Until(exp) > 90*time.Minute || time.Until(exp) < 89*time.Minute {
		t.Fatalf("token: %v", m)
	}

	// Only the hash is stored; the audit log names the action, not the token.
	if _, err := e.store.LookupInitialAccessToken(context.Background(), []byte(tok2), time.Now()); err == nil {
		t.Fatal("the raw token is a store key")
	}
	if log := e.audit.String(); strings.Contains(log, tok) || strings.Contains(log, tok2) || !strings.Contains(log, "initial_access_tokens.create") {
		t.Fatalf("audit log: %s", log)
	}

	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"ttl": "forever"}, "ttl"},
		{map[string]any{"ttl": "-1h"}, "ttl"},
		{map[string]any{"ttl": "8761h"}, "ttl"},
		{map[string]any{"uses": -1}, "uses"},
		{map[string]any{"uses": 2000000}, "uses"},
		{map[string]any{"uses": "one"}, ""},
		{map[string]any{"scope": "x"}, ""},
		{`{"ttl":`, ""},
	} {
		expectError(t, e.do("POST", "/admin/initial-access-tokens", c.body), http.StatusBadRequest, "invalid_request", c.field)
	}
	expectError(t, e.doAuth("POST", "/admin/initial-access-tokens", nil, "Bearer wrong"), http.StatusUnauthorized, "unauthorized", "")

	// Without an issuer wired in, the route does not exist.
	expectError(t, newEnv(t).do("POST", "/admin/initial-access-tokens", nil), http.StatusNotFound, "not_found", "")
}
