package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole file from one read
// transaction: what the file held when it began, whatever is written
// meanwhile. Writers go on committing; only one that must grow the file
// past its current memory map waits for the copy to end (bbolt remaps under
// a lock that read transactions hold). start is called with the copy's
// exact size before any byte is written and returns where to write it, so
// a caller can announce the length (an HTTP Content-Length) and a reader
// can tell a cut-short copy from a whole one.
func (s *Store) Backup(ctx context.Context, start func(size int64) (io.Writer, error)) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		w, err := start(tx.Size())
		if err != nil {
			return err
		}
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// VerifyFile checks that path is a whole store file: it opens as bbolt
// (read-only, so a copy is never changed by the check), every page passes
// bbolt's consistency check, and every bucket this package creates is
// there. A torn or truncated copy fails.
func VerifyFile(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("not a bbolt file: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var bad []error
		for err := range tx.Check() {
			bad = append(bad, err)
		}
		if len(bad) > 0 {
			return fmt.Errorf("consistency check: %w", errors.Join(bad...))
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %q missing", name)
			}
		}
		return nil
	})
}
