package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"authserver/resources"
)

func TestResourcesCommands(t *testing.T) {
	s := newAdminServer(t)
	ctx := context.Background()

	r := run1(runResources, "", withConn(s, "create", "--uri", "https://api.example/", "--name", "Photos API",
		"--scopes", "photos:read photos:write", "--access-token-ttl", "10m")...).ok(t)
	if m := r.json(t); m["uri"] != "https://api.example/" || m["access_token_ttl"] != "10m0s" {
		t.Fatalf("create printed %s", r.stdout)
	}
	got, err := s.store.GetResource(ctx, "https://api.example/")
	if err != nil || got.Name != "Photos API" || strings.Join(got.Scopes, " ") != "photos:read photos:write" || got.AccessTokenTTL != 10*time.Minute {
		t.Fatalf("stored %+v, %v", got, err)
	}
	run1(runResources, "", withConn(s, "create", "--uri", "https://b.example/x", "--name", "B", "--scopes", "b")...).ok(t)

	r = run1(runResources, "", withConn(s, "list")...).ok(t)
	if list, _ := r.json(t)["resources"].([]any); len(list) != 2 {
		t.Fatalf("list printed %s", r.stdout)
	}

	run1(runResources, "", withConn(s, "delete", "https://api.example/")...).ok(t)
	if _, err := s.store.GetResource(ctx, "https://api.example/"); !errors.Is(err, resources.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	run1(runResources, "", withConn(s, "delete", "https://api.example/")...).failed(t, 1, "not found")

	run1(runResources, "", withConn(s, "create", "--name", "x", "--scopes", "a")...).failed(t, 2, "--uri is required")
	run1(runResources, "", withConn(s, "create", "--uri", "https://c.example/", "--scopes", "a")...).failed(t, 2, "--name is required")
	run1(runResources, "", withConn(s, "create", "--uri", "https://c.example/#f", "--name", "c", "--scopes", "a")...).failed(t, 1, "fragment")
	run1(runResources, "", withConn(s, "create", "--uri", "https://c.example/", "--name", "c", "--scopes", "a", "--access-token-ttl", "-1m")...).failed(t, 2, "negative")
}
