package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"authserver/clients"
	"authserver/store"
	"authserver/tokens"
	"authserver/users"
)

// outageBound is how long a call to a store that is down may take before
// it answers: it must fail, not hang.
const outageBound = 5 * time.Second

// testPing: a working store answers Ping.
func testPing(t *testing.T, b store.Backend) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping of a working store: %v", err)
	}
}

// Outage checks a backend whose store has gone away (the caller closed the
// file or stopped the server after down was built): Ping and reads and
// writes of every kind fail with store.ErrUnavailable, each within
// outageBound.
func Outage(t *testing.T, down store.Backend) {
	t.Helper()
	now := time.Now()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", down.Ping},
		{"GetClient", func(ctx context.Context) error { _, err := down.GetClient(ctx, randID("c")); return err }},
		{"CreateClient", func(ctx context.Context) error {
			return down.CreateClient(ctx, &clients.Client{ID: randID("c"), GrantTypes: []string{clients.GrantClientCredentials}})
		}},
		{"GetUserByUsername", func(ctx context.Context) error { _, err := down.GetUserByUsername(ctx, randID("u")); return err }},
		{"CreateUser", func(ctx context.Context) error {
			return down.CreateUser(ctx, &users.User{ID: randID("u"), Username: randID("name")})
		}},
		{"RotateRefresh", func(ctx context.Context) error {
			_, _, err := down.RotateRefresh(ctx, tokens.Rotation{FamilyID: randID("f"), ClientID: "c", Presented: hashOf(), Next: hashOf(), Now: now})
			return err
		}},
		{"RedeemCode", func(ctx context.Context) error { _, err := down.RedeemCode(ctx, hashOf(), now); return err }},
		{"IsDenied", func(ctx context.Context) error { _, err := down.IsDenied(ctx, randID("jti")); return err }},
		{"RememberOnce", func(ctx context.Context) error {
			_, err := down.RememberOnce(ctx, randID("once"), now.Add(time.Minute))
			return err
		}},
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 2*outageBound)
		start := time.Now()
		err := c.call(ctx)
		took := time.Since(start)
		cancel()
		t.Logf("%s: %v", c.name, took)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a store that is down: %v, want store.ErrUnavailable", c.name, err)
		}
		if took > outageBound {
			t.Errorf("%s on a store that is down took %v, want under %v", c.name, took, outageBound)
		}
	}
}
