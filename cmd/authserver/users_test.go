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

// users create takes the profile claims as flags; update-profile changes
// only those given, "" removing one; the ID stays.
func TestUsersProfile(t *testing.T) {
	s := newAdminServer(t)
	ctx := context.Background()
	m := run1(runUsers, "a long passphrase\n", withConn(s, "create", "--username", "alice", "--password-stdin",
		"--email", "alice@example.com", "--name", "Alice Liddell", "--email-verified",
		"--address", `{"locality":"Oxford","country":"GB"}`)...).ok(t).json(t)
	id := m["id"].(string)
	if m["email"] != "alice@example.com" || m["name"] != "Alice Liddell" || m["email_verified"] != true {
		t.Fatalf("create: %v", m)
	}
	u, err := s.users.Get(ctx, id)
	if err != nil || u.Profile.Address == nil || u.Profile.Address.Locality != "Oxford" {
		t.Fatalf("stored: %+v %v", u, err)
	}

	m = run1(runUsers, "", withConn(s, "update-profile", "--email", "liddell@example.org", "--name", "", "--locale", "en-GB", "--", id)...).ok(t).json(t)
	if m["id"] != id || m["email"] != "liddell@example.org" || m["name"] != nil || m["locale"] != "en-GB" || m["email_verified"] != true {
		t.Fatalf("update-profile: %v", m)
	}
	m = run1(runUsers, "", withConn(s, "update-profile", "--email-verified=false", "--address", "", "--", id)...).ok(t).json(t)
	if m["email_verified"] != nil || m["address"] != nil || m["email"] != "liddell@example.org" {
		t.Fatalf("update-profile of email_verified and address: %v", m)
	}

	run1(runUsers, "", withConn(s, "update-profile", "--", id)...).failed(t, 2, "nothing to change")
	run1(runUsers, "", withConn(s, "update-profile", "--website", "ftp://x", "--", id)...).failed(t, 1, "website: must be an absolute https or http URL")
	run1(runUsers, "", withConn(s, "update-profile", "--address", "Oxford", "--", id)...).failed(t, 2, "--address must be a JSON object")
	run1(runUsers, "", withConn(s, "create", "--username", "bob", "--password", "a long passphrase", "--email", "bob")...).
		failed(t, 1, "email: must be an address")
	if _, err := s.users.GetByUsername(ctx, "bob"); err == nil {
		t.Error("a user with a bad email was created")
	}
	for _, cmd := range []string{"create", "update-profile"} {
		r := run1(runUsers, "", cmd, "--help").ok(t)
		if !strings.Contains(r.stdout, "-email") || !strings.Contains(r.stdout, "-phone-number-verified") {
			t.Errorf("%s --help lacks the profile flags:\n%s", cmd, r.stdout)
		}
	}
}
