package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/tokens"
)

// benchSizes are the family counts the store benchmarks run at: 1k by
// default, and 1M as well with AUTHSERVER_BENCH_BIG=1 (seeding it takes
// about a minute, too long for an ordinary run):
//
//	AUTHSERVER_BENCH_BIG=1 go test -run '^$' -bench 'RotateAt|JanitorPass' -benchtime 1x ./store/embedded
func benchSizes() []int {
	if os.Getenv("AUTHSERVER_BENCH_BIG") == "1" {
		return []int{1_000, 1_000_000}
	}
	return []int{1_000}
}

func sizeName(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("families=%dM", n/1_000_000)
	}
	return fmt.Sprintf("families=%dk", n/1_000)
}

// seedFamilies writes n families through createFamily, many to a
// transaction; the first expired of them ended an hour before now, the
// rest live for a day.
func seedFamilies(tb testing.TB, s *Store, n, expired int, now time.Time) {
	tb.Helper()
	const perTx = 2_000
	for start := 0; start < n; start += perTx {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(start+perTx, n); i++ {
				end := now.Add(24 * time.Hour)
				if i < expired {
					end = now.Add(-time.Hour)
				}
				f := tokens.Family{ID: fmt.Sprintf("seed-%d-%d", seeded.Load(), i), ClientID: "bench-client",
					UserID: fmt.Sprintf("user-%d", i%10_000), CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: end, IdleExpiresAt: end}
				if err := createFamily(tx, f, sum(f.ID), now.Add(-2*time.Hour)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	seeded.Add(1)
}

// seeded counts seedFamilies calls, so each call's IDs are new.
var seeded atomic.Int64

func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := open(filepath.Join(b.TempDir(), "authserver.db"), time.Second, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkRotateAt rotates one family's token in a store that holds n
// others: the cost of a rotation should not depend on n.
func BenchmarkRotateAt(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(sizeName(n), func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b)
			now := time.Now()
			seedFamilies(b, s, n, 0, now)
			f := tokens.Family{ID: "bench", ClientID: "bench-client", UserID: "bench-user",
				CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(time.Hour)}
			cur := sum("t0")
			if err := s.CreateFamily(ctx, f, cur); err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				next := sum(fmt.Sprint("t", i+1))
				_, _, err := s.RotateRefresh(ctx, tokens.Rotation{FamilyID: f.ID, ClientID: f.ClientID,
					Presented: cur, Generation: int64(i), Next: next, NextJTI: fmt.Sprint(i), Now: time.Now(), Idle: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				cur = next
			}
		})
	}
}

// BenchmarkJanitorPass times one janitor pass over n families, with none
// expired and with a quarter expired (re-seeded before every pass).
func BenchmarkJanitorPass(b *testing.B) {
	for _, n := range benchSizes() {
		for _, quarter := range []bool{false, true} {
			name := sizeName(n) + "/expired=none"
			if quarter {
				name = sizeName(n) + "/expired=quarter"
			}
			b.Run(name, func(b *testing.B) {
				s := openBench(b)
				now := time.Now()
				seedFamilies(b, s, n, 0, now)
				// The longest a janitor transaction held the writer lock,
				// as seen between the hook's calls.
				var last time.Time
				var longest time.Duration
				s.afterPurgeBatch = func(batchReport) {
					longest = max(longest, time.Since(last))
					last = time.Now()
				}
				for b.Loop() {
					if quarter {
						b.StopTimer()
						seedFamilies(b, s, n/4, n/4, time.Now())
						b.StartTimer()
					}
					last = time.Now()
					if _, err := s.purge(time.Now()); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(longest.Microseconds())/1000, "ms/longest-batch")
			})
		}
	}
}

// BenchmarkBuildExpiryIndex is the one-time cost of opening a file written
// before the expiry index existed, holding n families.
func BenchmarkBuildExpiryIndex(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(sizeName(n), func(b *testing.B) {
			s := openBench(b)
			seedFamilies(b, s, n, 0, time.Now())
			for b.Loop() {
				b.StopTimer()
				// Back to what a file from before the index holds.
				err := s.db.Update(func(tx *bolt.Tx) error {
					if err := tx.DeleteBucket(bucketExpiry); err != nil {
						return err
					}
					if _, err := tx.CreateBucket(bucketExpiry); err != nil {
						return err
					}
					return tx.Bucket(bucketMeta).Delete(metaExpiryIndex)
				})
				b.StartTimer()
				if err == nil {
					err = buildExpiryIndex(s.db)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
