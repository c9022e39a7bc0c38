package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"authserver/clients"
)

func TestClientsCommands(t *testing.T) {
	s := newAdminServer(t)
	ctx := context.Background()

	r := run1(runClients, "", withConn(s, "create", "--name", "billing", "--grant-types", "client_credentials",
		"--scopes", "read write", "--audience", "https://api.example.com,https://b.example.com")...).ok(t)
	if !strings.Contains(r.stdout, "\n  \"") {
		t.Errorf("output is not indented JSON:\n%s", r.stdout)
	}
	m := r.json(t)
	id, _ := m["id"].(string)
	secret, _ := m["client_secret"].(string)
	if id == "" || secret == "" {
		t.Fatalf("create printed no id or secret:\n%s", r.stdout)
	}
	if _, err := s.clients.Authenticate(ctx, id, secret); err != nil {
		t.Fatalf("printed secret does not authenticate: %v", err)
	}
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, []string{"read", "write"}) || len(c.Audience) != 2 || c.Name != "billing" {
		t.Errorf("stored client: %+v", c)
	}

	// Comma-separated scopes and the remaining flags.
	r = run1(runClients, "", withConn(s, "create", "--name", "spa", "--public", "--first-party", "--auth-method", "none",
		"--grant-types", "authorization_code,refresh_token", "--scopes", "read,write",
		"--redirect-uris", "https://app.example.com/cb,http://127.0.0.1/cb",
		"--post-logout-redirect-uris", "https://app.example.com/bye")...).ok(t)
	spa := r.json(t)
	if _, ok := spa["client_secret"]; ok || spa["public"] != true || spa["first_party"] != true {
		t.Errorf("public client: %s", r.stdout)
	}
	if uris, _ := spa["redirect_uris"].([]any); len(uris) != 2 {
		t.Errorf("redirect URIs: %v", spa["redirect_uris"])
	}
	if uris, _ := spa["post_logout_redirect_uris"].([]any); len(uris) != 1 || uris[0] != "https://app.example.com/bye" {
		t.Errorf("post-logout redirect URIs: %v", spa["post_logout_redirect_uris"])
	}
	if spa["subject_type"] != "public" {
		t.Errorf("default subject_type: %v", spa["subject_type"])
	}
	r = run1(runClients, "", withConn(s, "create", "--name", "rp", "--subject-type", "pairwise",
		"--grant-types", "authorization_code", "--scopes", "read", "--redirect-uris", "https://rp.example.com/cb")...).ok(t)
	if rp := r.json(t); rp["subject_type"] != "pairwise" {
		t.Errorf("pairwise client: %s", r.stdout)
	}

	r = run1(runClients, "", withConn(s, "list")...).ok(t)
	if !strings.Contains(r.stdout, id) || strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, "client_secret\"") {
		t.Errorf("list:\n%s", r.stdout)
	}
	if got := run1(runClients, "", withConn(s, "get", "--", id)...).ok(t).json(t); got["id"] != id || got["name"] != "billing" {
		t.Errorf("get: %v", got)
	}

	r = run1(runClients, "", withConn(s, "rotate-secret", "--overlap", "1h", "--", id)...).ok(t)
	secret2, _ := r.json(t)["client_secret"].(string)
	if secret2 == "" || secret2 == secret {
		t.Fatalf("rotate-secret printed %q", secret2)
	}
	for _, sec := range []string{secret, secret2} {
		if _, err := s.clients.Authenticate(ctx, id, sec); err != nil {
			t.Errorf("secret during overlap: %v", err)
		}
	}
	// A flag after the ID is refused with a hint, not silently ignored.
	r = run1(runClients, "", withConn(s, "rotate-secret", "--", id, "--overlap", "1h")...)
	r.failed(t, 2, "flag --overlap must come before ID")

	if got := run1(runClients, "", withConn(s, "disable", "--", id)...).ok(t).json(t); got["disabled"] != true {
		t.Errorf("disable: %v", got)
	}
	if _, err := s.clients.Authenticate(ctx, id, secret2); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Errorf("disabled client authenticates: %v", err)
	}
	// Client ids are hex, so one never reads as a flag; "--" still works.
	if strings.HasPrefix(id, "-") {
		t.Fatalf("client id %q starts with '-'", id)
	}
	if got := run1(runClients, "", withConn(s, "get", "--", id)...).ok(t).json(t); got["id"] != id {
		t.Errorf("get -- %s: %v", id, got)
	}

	if got := run1(runClients, "", withConn(s, "enable", "--", id)...).ok(t).json(t); got["disabled"] != false {
		t.Errorf("enable: %v", got)
	}

	r = run1(runClients, "", withConn(s, "delete", "--", id)...).ok(t)
	if r.stdout != "" {
		t.Errorf("delete printed %q", r.stdout)
	}
	run1(runClients, "", withConn(s, "get", "--", id)...).failed(t, 1, "authserver: get client: client not found")
}

func TestClientsCreateErrors(t *testing.T) {
	s := newAdminServer(t)
	run1(runClients, "", withConn(s, "create", "--grant-types", "client_credentials")...).failed(t, 2, "--name is required")
	run1(runClients, "", withConn(s, "create", "--name", "x", "--grant-types", "implicit")...).
		failed(t, 1, `authserver: create client: grant_types: unsupported grant type "implicit"`)
	run1(runClients, "", withConn(s, "rotate-secret", "--overlap", "-1h", "x")...).failed(t, 2, "must not be negative")
	if list, _ := s.clients.List(context.Background()); len(list) != 0 {
		t.Errorf("failed creates stored %d clients", len(list))
	}
}
