package tokens_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"authserver/clients"
	"authserver/store/embedded"
	"authserver/tokens"
	"authserver/users"
)

// RevokeUser and RevokeClient move the generation on and revoke exactly
// the user's or the client's live families, denying each one's newest
// access token; nobody else's family changes.
func TestRevoker(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	us := users.NewService(st, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1})
	reg := clients.NewRegistry(st, []string{"read"})
	r := tokens.NewRevoker(st, us, reg, time.Minute, time.Minute, nil)

	alice, _ := us.Create(ctx, "alice", "alice's password")
	bob, _ := us.Create(ctx, "bob", "bob's password")
	app, _, _ := reg.Create(ctx, clients.Registration{Name: "app", GrantTypes: []string{"password"}})
	other, _, _ := reg.Create(ctx, clients.Registration{Name: "other", GrantTypes: []string{"password"}})
	family := func(userID, clientID string) tokens.Family {
		now := time.Now()
		f := tokens.Family{ID: tokens.NewFamilyID(), UserID: userID, ClientID: clientID, CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour), LastJTI: tokens.NewJTI()}
		_, h := tokens.NewRefreshToken(f.ID)
		if err := st.CreateFamily(ctx, f, h); err != nil {
			t.Fatal(err)
		}
		return f
	}
	aliceApp, aliceOther, bobApp, bobOther := family(alice.ID, app.ID), family(alice.ID, other.ID), family(bob.ID, app.ID), family(bob.ID, other.ID)
	revoked := func(f tokens.Family) bool {
		got, err := st.GetFamily(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		denied, err := st.IsDenied(ctx, f.LastJTI)
		if err != nil {
			t.Fatal(err)
		}
		if got.Revoked != denied {
			t.Fatalf("family %s revoked=%v but its newest access token denied=%v", f.ID, got.Revoked, denied)
		}
		return got.Revoked
	}

	if n, err := r.RevokeUser(ctx, alice.ID, "test"); err != nil || n != 2 {
		t.Fatalf("RevokeUser: %d, %v; want 2 families", n, err)
	}
	if u, _ := us.Get(ctx, alice.ID); u.Generation != alice.Generation+1 {
		t.Fatalf("alice's generation %d, want %d", u.Generation, alice.Generation+1)
	}
	if !revoked(aliceApp) || !revoked(aliceOther) || revoked(bobApp) || revoked(bobOther) {
		t.Fatal("RevokeUser revoked the wrong families")
	}
	if n, err := r.RevokeClient(ctx, app.ID, "test"); err != nil || n != 1 {
		t.Fatalf("RevokeClient: %d, %v; want bob's one family of app", n, err)
	}
	if c, _ := reg.Get(ctx, app.ID); c.Generation != app.Generation+1 {
		t.Fatalf("app's generation %d, want %d", c.Generation, app.Generation+1)
	}
	if !revoked(bobApp) || revoked(bobOther) {
		t.Fatal("RevokeClient revoked the wrong families")
	}
	// Revoking again, or what does not exist, is no error and revokes nothing.
	for _, f := range []func() (int, error){
		func() (int, error) { return r.RevokeUser(ctx, alice.ID, "test") },
		func() (int, error) { return r.RevokeUser(ctx, "no such user", "test") },
		func() (int, error) { return r.RevokeClient(ctx, "no such client", "test") },
	} {
		if n, err := f(); err != nil || n != 0 {
			t.Fatalf("a second revocation: %d, %v", n, err)
		}
	}
	// A family revoked before it exists cannot start later (a code replay
	// racing the first redemption).
	early := tokens.NewFamilyID()
	if ok, err := r.RevokeFamily(ctx, early, tokens.ReasonCodeReplayed); err != nil || ok {
		t.Fatalf("RevokeFamily of an absent family: %v, %v", ok, err)
	}
	now := time.Now()
	_, h := tokens.NewRefreshToken(early)
	if err := st.CreateFamily(ctx, tokens.Family{ID: early, UserID: bob.ID, ClientID: other.ID, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}, h); err != tokens.ErrFamilyExists {
		t.Fatalf("a family revoked ahead of its creation was created: %v", err)
	}
}
