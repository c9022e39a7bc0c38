package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/store"
	"authserver/tokens"
)

// A backup taken while rotations commit is a whole bbolt file: it opens,
// every page checks, every bucket is there, and it holds what was written
// before it began.
func TestBackupWhileWriting(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	seedFamilies(t, s, 5_000, 0, now)
	f := tokens.Family{ID: "busy", ClientID: "app", UserID: "u", CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	if err := s.CreateFamily(ctx, f, sum("t0")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var wrote atomic.Int64
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fam := f
			fam.ID = fmt.Sprint("during-", i)
			if err := s.CreateFamily(ctx, fam, sum(fam.ID)); err != nil {
				t.Error(err)
				return
			}
			wrote.Add(1)
		}
	})
	for wrote.Load() < 5 {
		time.Sleep(time.Millisecond)
	}
	var buf bytes.Buffer
	var announced int64
	n, err := s.Backup(ctx, func(size int64) (io.Writer, error) {
		announced = size
		return &buf, nil
	})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != announced || int64(buf.Len()) != n {
		t.Fatalf("backup wrote %d bytes (buffer %d), announced %d", n, buf.Len(), announced)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkBoltFile(t, path)

	copied, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	if _, err := copied.GetFamily(ctx, "busy"); err != nil {
		t.Fatalf("the copy lacks a family written before it: %v", err)
	}
	if n := count(t, copied, bucketFamilies); n < 5_001+5 {
		t.Fatalf("the copy holds %d families, want at least %d", n, 5_001+5)
	}
}

// checkBoltFile opens path as bbolt, read-only, and checks every page and
// that every bucket the store creates is there.
func checkBoltFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("the backup does not open as bbolt: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var bad []error
		for err := range tx.Check() {
			bad = append(bad, err)
		}
		if len(bad) > 0 {
			return errors.Join(bad...)
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("backup check: %v", err)
	}
}

// A closed store answers a backup with an outage, and never calls start.
func TestBackupOfClosedStoreIsUnavailable(t *testing.T) {
	s, _ := openTemp(t)
	s.Close()
	_, err := s.Backup(t.Context(), func(int64) (io.Writer, error) {
		t.Fatal("start called on a closed store")
		return nil, nil
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Backup of a closed store: %v, want ErrUnavailable", err)
	}
}

// VerifyFile accepts a whole copy and refuses a cut-short one.
func TestVerifyFile(t *testing.T) {
	s, _ := openTemp(t)
	seedFamilies(t, s, 2_000, 0, time.Now())
	var buf bytes.Buffer
	if _, err := s.Backup(t.Context(), func(int64) (io.Writer, error) { return &buf, nil }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	whole, torn := filepath.Join(dir, "whole.db"), filepath.Join(dir, "torn.db")
	if err := os.WriteFile(whole, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(torn, buf.Bytes()[:buf.Len()/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(whole); err != nil {
		t.Fatalf("VerifyFile(whole copy): %v", err)
	}
	if err := VerifyFile(torn); err == nil {
		t.Fatal("VerifyFile accepted a copy cut in half")
	}
}
