package main

import (
	"context"
	"strings"
	"testing"
)

func TestKeysRotate(t *testing.T) {
	s := newAdminServer(t)
	before, err := s.store.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := run1(runKeys, "", withConn(s, "rotate")...).ok(t).json(t)
	kid, _ := m["kid"].(string)
	after, err := s.store.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if kid == "" || len(after) != len(before)+1 || after[len(after)-1].ID != kid {
		t.Errorf("rotate printed kid %q; keys %d -> %d", kid, len(before), len(after))
	}
	if m["state"] != "pending" {
		t.Errorf("rotated key state = %v, want pending (signs after publish_ahead)", m["state"])
	}
	run1(runKeys, "", "rotate", "--admin-url", s.url, "--admin-token", "wrong").failed(t, 1, "authserver: rotate keys: ")
}

// keyList runs `keys list` and returns kid -> state.
func keyList(t *testing.T, s *adminServer) map[string]string {
	t.Helper()
	list, _ := run1(runKeys, "", withConn(s, "list")...).ok(t).json(t)["keys"].([]any)
	out := map[string]string{}
	for _, k := range list {
		k := k.(map[string]any)
		for _, f := range []string{"kid", "alg", "state", "created_at", "signs_from"} {
			if _, ok := k[f]; !ok {
				t.Errorf("keys list entry lacks %q: %v", f, k)
			}
		}
		out[k["kid"].(string)] = k["state"].(string)
	}
	return out
}

func TestKeysListRotateNowRetire(t *testing.T) {
	s := newAdminServer(t)
	states := keyList(t, s)
	if len(states) != 1 {
		t.Fatalf("keys list = %v, want one key", states)
	}
	var first string
	for kid := range states {
		first = kid
	}
	if states[first] != "signing" {
		t.Fatalf("first key state = %s", states[first])
	}
	run1(runKeys, "", withConn(s, "retire", first)...).failed(t, 1, "signs new tokens")

	now := run1(runKeys, "", withConn(s, "rotate", "--now")...).ok(t).json(t)
	if now["state"] != "signing" {
		t.Fatalf("rotate --now: %v", now)
	}
	states = keyList(t, s)
	if states[first] != "retiring" || states[now["kid"].(string)] != "signing" {
		t.Errorf("after rotate --now: %v", states)
	}
	got := run1(runKeys, "", withConn(s, "retire", first)...).ok(t).json(t)
	if got["state"] != "retiring" || got["retires_at"] == nil {
		t.Errorf("retire printed %v", got)
	}
	gone := run1(runKeys, "", withConn(s, "retire", "--now", first)...).ok(t).json(t)
	if gone["state"] != "retired" {
		t.Errorf("retire --now printed %v, want retired", gone)
	}
	run1(runKeys, "", withConn(s, "retire", "nosuchkid")...).failed(t, 1, "not found")
	run1(runKeys, "", withConn(s, "retire")...).failed(t, 2, "missing KID")
}

func TestKeysHelp(t *testing.T) {
	r := run1(runKeys, "", "--help").ok(t)
	for _, c := range []string{"list", "rotate", "retire KID"} {
		if !strings.Contains(r.stdout, c) {
			t.Errorf("keys --help lacks %q:\n%s", c, r.stdout)
		}
	}
	if r := run1(runKeys, "", "retire", "--help").ok(t); !strings.Contains(r.stdout, "-now") {
		t.Errorf("keys retire --help lacks -now:\n%s", r.stdout)
	}
	r = run1(runKeys, "", "rotate", "--help").ok(t)
	if !strings.Contains(r.stdout, "-now") || !strings.Contains(r.stdout, "-admin-url") {
		t.Errorf("keys rotate --help lacks its flags:\n%s", r.stdout)
	}
}
