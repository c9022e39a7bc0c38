package embedded_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"authserver/store/embedded"
	"authserver/tokens"
)

// BenchmarkRotateRefresh is the refresh grant's one store step on the
// embedded store: one bbolt write transaction, so one fsync; the figure is
// the disk's sync latency more than CPU.
func BenchmarkRotateRefresh(b *testing.B) {
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(b.TempDir(), "authserver.db"))
	if err != nil {
		b.Fatal(err)
	}
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
