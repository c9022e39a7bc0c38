package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	redisstore "authserver/store/redis"
	"authserver/store/redistest"
	"authserver/tokens"
)

// BenchmarkRotateRefresh is the refresh grant's one store step on a real
// Redis: the rotation script (check the presented hash, move current to
// previous, store the next, push the idle deadline) in one round trip.
func BenchmarkRotateRefresh(b *testing.B) {
	ctx := context.Background()
	srv := redistest.StartStandalone(b)
	st := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), "bench:")
	b.Cleanup(func() { st.Close() })

	now := time.Now()
	f := tokens.Family{
		ID: tokens.NewFamilyID(), ClientID: "bench-client", UserID: "bench-user", Scope: "profile",
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(time.Hour),
	}
	_, curHash := tokens.NewRefreshToken(f.ID)
	if err := st.CreateFamily(ctx, f, curHash); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	gen := int64(0)
	for b.Loop() {
		_, next := tokens.NewRefreshToken(f.ID)
		_, _, err := st.RotateRefresh(ctx, tokens.Rotation{
			FamilyID: f.ID, ClientID: f.ClientID, Presented: curHash, Generation: gen, Next: next,
			NextJTI: tokens.NewJTI(), Now: time.Now(), Idle: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
		curHash = next
		gen++
	}
}

// BenchmarkIsDenied is the deny-list lookup of an introspection: one GET
// of a key that is not there.
func BenchmarkIsDenied(b *testing.B) {
	ctx := context.Background()
	srv := redistest.StartStandalone(b)
	st := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), "bench:")
	b.Cleanup(func() { st.Close() })
	jti := tokens.NewJTI()
	b.ReportAllocs()
	for b.Loop() {
		if denied, err := st.IsDenied(ctx, jti); err != nil || denied {
			b.Fatal(denied, err)
		}
	}
}
