package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"authserver/clients"
	"authserver/registration"
	"authserver/server/admin"
	"authserver/store/embedded"
)

func TestInitialAccessTokensCreate(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := clients.NewRegistry(st, []string{"read"})
	svc := registration.New(registration.Config{Issuer: "https://as.test", AllowedGrantTypes: clients.KnownGrantTypes}, reg, st, nil, nil)
	srv := httptest.NewServer(admin.New(admin.Options{Token: cliTestToken, Clients: reg, Families: st,
		Audit: slog.New(slog.DiscardHandler), InitialAccessTokens: svc}))
	t.Cleanup(srv.Close)
	conn := []string{"--admin-url", srv.URL, "--admin-token", cliTestToken}
	lookup := func(tok string) registration.InitialAccessToken {
		t.Helper()
		it, err := st.LookupInitialAccessToken(context.Background(), clients.HashSecret(tok), time.Now())
		if err != nil {
			t.Fatalf("printed token %q is not usable: %v", tok, err)
		}
		return it
	}

	m := run1(runInitialAccessTokens, "", append([]string{"create"}, conn...)...).ok(t).json(t)
	tok, _ := m["token"].(string)
	if it := lookup(tok); it.UsesLeft != 1 || time.Until(it.ExpiresAt) < 23*time.Hour {
		t.Fatalf("default token: %+v", it)
	}
	m = run1(runInitialAccessTokens, "", append([]string{"create", "--ttl", "2h", "--uses", "3"}, conn...)...).ok(t).json(t)
	tok, _ = m["token"].(string)
	if it := lookup(tok); it.UsesLeft != 3 || time.Until(it.ExpiresAt) > 2*time.Hour || m["uses"] != float64(3) {
		t.Fatalf("token: %+v, printed %v", it, m)
	}

	run1(runInitialAccessTokens, "", append([]string{"create", "--uses", "0"}, conn...)...).failed(t, 2, "--uses must be at least 1")
	run1(runInitialAccessTokens, "", append([]string{"create", "--ttl", "-1h"}, conn...)...).failed(t, 2, "--ttl must be positive")
	run1(runInitialAccessTokens, "", append([]string{"create", "--ttl", "9000h"}, conn...)...).failed(t, 1, "ttl: must be between")
	run1(runInitialAccessTokens, "", "create", "--admin-url", srv.URL, "--admin-token", "wrong").failed(t, 1, "create initial access token")
	if r := run1(run, "", "initial-access-tokens", "-h"); r.code != 0 {
		t.Fatalf("initial-access-tokens -h: exit %d", r.code)
	}
}
