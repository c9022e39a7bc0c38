package embedded

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// purgeReport sums one janitor pass.
type purgeReport struct {
	Batches int // write transactions
	batchReport
}

// purge deletes every record expired at now, walking the expiry index from
// its start in transactions of at most purgeBatchSize entries: its cost
// follows what expired, not what is stored, and between batches writers
// take the lock. With nothing due it is one read of one key.
func (s *Store) purge(now time.Time) (purgeReport, error) {
	var rep purgeReport
	if due, err := s.anyDue(now); err != nil || !due {
		return rep, err
	}
	for {
		var b batchReport
		err := s.db.Update(func(tx *bolt.Tx) error {
			var err error
			b, err = purgeBatch(tx, now, purgeBatchSize)
			return err
		})
		if err != nil {
			return rep, err
		}
		rep.Batches++
		rep.Entries += b.Entries
		rep.Visited += b.Visited
		rep.Deleted += b.Deleted
		if s.afterPurgeBatch != nil {
			s.afterPurgeBatch(b)
		}
		if b.Entries < purgeBatchSize {
			return rep, nil
		}
		// Writes wait batchDelay for company before they take the lock;
		// pausing longer lets those that came during the batch go first.
		time.Sleep(2 * batchDelay)
	}
}

// anyDue reports whether the index's first entry is due at now.
func (s *Store) anyDue(now time.Time) (bool, error) {
	var due bool
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketExpiry).Cursor().First()
		due = k != nil && (len(k) < 8 || binary.BigEndian.Uint64(k) <= expiryNanos(now))
		return nil
	})
	return due, err
}
