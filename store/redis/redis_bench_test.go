package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	redisstore "authserver/store/redis"
	"authserver/store/redistest"
	"authserver/tokens"
)

// BenchmarkRotateRefresh is the refresh grant's one store step on a real
// Redis: the rotation script (check the presented hash and generation,
// store the next, push the idle deadline) in one round trip.
func BenchmarkRotateRefresh(b *testing.B) {
	srv := redistest.StartStandalone(b)
	st := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), "bench:")
	b.Cleanup(func() { st.Close() })
	benchRotate(b, st)
}

// BenchmarkRotateRefreshWait is the same step on a Sentinel group (master
// and one replica), without and with redis.wait_replicas: 1, side by side:
// the cost of waiting for the replica's acknowledgement.
func BenchmarkRotateRefreshWait(b *testing.B) {
	s := redistest.StartSentinel(b)
	for _, replicas := range []int{0, 1} {
		b.Run(fmt.Sprintf("wait_replicas=%d", replicas), func(b *testing.B) {
			st := redisstore.New(s.Client(b), "bench:")
			st.WaitForReplicas(replicas, 100*time.Millisecond)
			benchRotate(b, st)
		})
	}
}

func benchRotate(b *testing.B, st *redisstore.Store) {
	ctx := context.Background()
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
