package embedded

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A remembered key is kept as its hash and the janitor removes it once it
// has expired, so one-time keys do not pile up in the file.
func TestRememberOnceHashedAndPurged(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	if fresh, err := s.RememberOnce(ctx, "raw-jti-text", now.Add(50*time.Millisecond)); err != nil || !fresh {
		t.Fatalf("RememberOnce = %v, %v; want true, nil", fresh, err)
	}
	if fresh, err := s.RememberOnce(ctx, "kept", now.Add(time.Hour)); err != nil || !fresh {
		t.Fatalf("RememberOnce = %v, %v; want true, nil", fresh, err)
	}
	count := func() (n int) {
		err := s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOnce).ForEach(func(k, _ []byte) error {
				if string(k) == "raw-jti-text" || string(k) == "kept" {
					t.Errorf("key stored as given: %q", k)
				}
				n++
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
	rep, err := s.purge(now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Deleted != 1 || count() != 1 {
		t.Fatalf("purge after expiry: %+v, %d records left; want 1 deleted, 1 left", rep, count())
	}
}
