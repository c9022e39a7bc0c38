package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"authserver/tokens"
)

func TestUsersFamiliesAndSignOut(t *testing.T) {
	s := newAdminServer(t)
	ctx := context.Background()
	u, err := s.users.Create(ctx, "hana", "hana's long password")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var ids []string
	for _, client := range []string{"phone-app", "laptop-app"} {
		f := tokens.Family{ID: tokens.NewFamilyID(), ClientID: client, UserID: u.ID, Scope: "read",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
		_, hash := tokens.NewRefreshToken(f.ID)
		if err := s.store.CreateFamily(ctx, f, hash); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}

	r := run1(runUsers, "", withConn(s, "families", "--", u.ID)...).ok(t)
	fams, _ := r.json(t)["families"].([]any)
	if len(fams) != 2 || !strings.Contains(r.stdout, ids[0]) || !strings.Contains(r.stdout, "laptop-app") {
		t.Fatalf("families:\n%s", r.stdout)
	}

	r = run1(runUsers, "", withConn(s, "sign-out", "--", u.ID)...).ok(t)
	if r.json(t)["families_revoked"] != float64(2) {
		t.Fatalf("sign-out:\n%s", r.stdout)
	}
	for _, id := range ids {
		if f, err := s.store.GetFamily(ctx, id); err != nil || !f.Revoked {
			t.Errorf("family %s after sign-out: %+v %v", id, f, err)
		}
	}
	if r := run1(runUsers, "", withConn(s, "families", "--", u.ID)...).ok(t); !strings.Contains(r.stdout, `"families": []`) {
		t.Fatalf("families after sign-out:\n%s", r.stdout)
	}

	run1(runUsers, "", withConn(s, "sign-out", "--", "no-such-user")...).failed(t, 1, "authserver: sign out: user not found")
	run1(runUsers, "", withConn(s, "families")...).failed(t, 2, "missing ID")
}
