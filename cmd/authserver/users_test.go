package main

import (
	"context"
	"strings"
	"testing"
)

func TestUsersCommands(t *testing.T) {
	s := newAdminServer(t)
	ctx := context.Background()

	// The trailing newline (and a CR) are not part of the password; inner
	// and leading spaces are.
	r := run1(runUsers, " pass word 1\r\nsecond line\n", withConn(s, "create", "--username", "erin", "--password-stdin")...).ok(t)
	m := r.json(t)
	id, _ := m["id"].(string)
	if id == "" || m["username"] != "erin" {
		t.Fatalf("create:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "password") || strings.Contains(r.stdout, "argon2") {
		t.Errorf("create shows password material:\n%s", r.stdout)
	}
	if _, err := s.users.Authenticate(ctx, "erin", " pass word 1"); err != nil {
		t.Errorf("password from stdin: %v", err)
	}

	run1(runUsers, "", withConn(s, "create", "--username", "frank", "--password", "flag password")...).ok(t)
	if _, err := s.users.Authenticate(ctx, "frank", "flag password"); err != nil {
		t.Errorf("password from flag: %v", err)
	}

	r = run1(runUsers, "", withConn(s, "list")...).ok(t)
	if !strings.Contains(r.stdout, `"erin"`) || !strings.Contains(r.stdout, `"frank"`) {
		t.Errorf("list:\n%s", r.stdout)
	}
	if got := run1(runUsers, "", withConn(s, "get", "--", id)...).ok(t).json(t); got["username"] != "erin" {
		t.Errorf("get: %v", got)
	}

	r = run1(runUsers, "new secret pw\n", withConn(s, "set-password", "--password-stdin", "--", id)...).ok(t)
	if r.stdout != "" {
		t.Errorf("set-password printed %q", r.stdout)
	}
	if _, err := s.users.Authenticate(ctx, "erin", "new secret pw"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := s.users.Authenticate(ctx, "erin", " pass word 1"); err == nil {
		t.Error("old password still works")
	}

	if got := run1(runUsers, "", withConn(s, "disable", "--", id)...).ok(t).json(t); got["disabled"] != true {
		t.Errorf("disable: %v", got)
	}
	if got := run1(runUsers, "", withConn(s, "enable", "--", id)...).ok(t).json(t); got["disabled"] != false {
		t.Errorf("enable: %v", got)
	}
	run1(runUsers, "", withConn(s, "delete", "--", id)...).ok(t)
	run1(runUsers, "", withConn(s, "get", "--", id)...).failed(t, 1, "authserver: get user: user not found")
}

func TestUsersCreateErrors(t *testing.T) {
	s := newAdminServer(t)
	run1(runUsers, "", withConn(s, "create", "--password", "long enough")...).failed(t, 2, "--username is required")
	run1(runUsers, "", withConn(s, "create", "--username", "gina")...).failed(t, 2, "a password is required")
	run1(runUsers, "pw from stdin\n", withConn(s, "create", "--username", "gina", "--password", "long enough", "--password-stdin")...).
		failed(t, 2, "not both")
	run1(runUsers, "", withConn(s, "create", "--username", "gina", "--password-stdin")...).failed(t, 2, "no password on stdin")
	run1(runUsers, "", withConn(s, "create", "--username", "gina", "--password", "short")...).
		failed(t, 1, "authserver: create user: password: must be at least")
	run1(runUsers, "", withConn(s, "set-password", "nope")...).failed(t, 2, "a password is required")
	if list, _ := s.users.List(context.Background()); len(list) != 0 {
		t.Errorf("failed creates stored %d users", len(list))
	}

	run1(runUsers, "", withConn(s, "create", "--username", "gina", "--password", "long enough")...).ok(t)
	run1(runUsers, "", withConn(s, "create", "--username", "GINA", "--password", "long enough")...).
		failed(t, 1, "authserver: create user: username already taken")
}

// users get takes a username as well as an ID; a username that looks like
// an ID is still found by name.
func TestUsersGetByUsername(t *testing.T) {
	s := newAdminServer(t)
	erin := run1(runUsers, "", withConn(s, "create", "--username", "erin", "--password", "a long passphrase")...).ok(t).json(t)
	hexName := strings.Repeat("ab", 16)
	odd := run1(runUsers, "", withConn(s, "create", "--username", hexName, "--password", "a long passphrase")...).ok(t).json(t)
	for arg, want := range map[string]any{"erin": erin["id"], "ERIN": erin["id"], erin["id"].(string): erin["id"], hexName: odd["id"]} {
		if got := run1(runUsers, "", withConn(s, "get", "--", arg)...).ok(t).json(t); got["id"] != want {
			t.Errorf("get %s: %v, want id %v", arg, got, want)
		}
	}
	run1(runUsers, "", withConn(s, "get", "--", "nobody")...).failed(t, 1, `user not found: no user has the ID or username "nobody"`)
}
