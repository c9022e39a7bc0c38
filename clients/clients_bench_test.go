package clients_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/clients"
	"authserver/store/embedded"
	redisstore "authserver/store/redis"
	"authserver/store/redistest"
)

// BenchmarkAuthenticate is the client check every token request starts
// with: SHA-256 of the presented secret, the client record from the store,
// a constant-time compare.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	emb, err := embedded.Open(filepath.Join(b.TempDir(), "authserver.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emb.Close() })
	srv := redistest.StartStandalone(b)
	rs := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), "bench:")
	b.Cleanup(func() { rs.Close() })

	for _, bc := range []struct {
		name  string
		store clients.Store
	}{
		{"embedded", emb},
		{"redis", rs},
		// What app.New wires: records served from memory.
		{"redis-cached", clients.NewCachedStore(rs, nil, time.Minute, slog.Default())},
	} {
		reg := clients.NewRegistry(bc.store, nil)
		c, secret, err := reg.Create(ctx, clients.Registration{
			Name: "bench", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"profile"},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Authenticate(ctx, c.ID, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
