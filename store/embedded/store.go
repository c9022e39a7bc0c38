package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/store"
)

var _ store.Backend = (*Store)(nil)

// Bucket names, one per concern.
var (
	bucketClients        = []byte("clients")
	bucketUsers          = []byte("users")
	bucketUsernames      = []byte("usernames") // username -> user ID
	bucketKeys           = []byte("keys")      // insertion sequence -> key
	bucketRateLimit      = []byte("ratelimit")
	bucketFamilies       = []byte("families")
	bucketUserFamilies   = []byte("user_families")   // pairKey(user ID, family ID) -> nothing
	bucketClientFamilies = []byte("client_families") // pairKey(client ID, family ID) -> nothing
	bucketCodes          = []byte("codes")
	bucketDenied         = []byte("denied")
	bucketSessions       = []byte("sessions")
	bucketConsents       = []byte("consents")
	// pairKey(user ID, sid NUL client ID) -> sessions.SessionClient
	bucketSessionClients = []byte("session_clients")
	bucketIATs           = []byte("initial_access_tokens") // token SHA-256 -> limits
	bucketKeyRotations   = []byte("key_rotations")         // claimed rotation slot -> claim expiry
	bucketOnce           = []byte("once")                  // SHA-256 of a one-time key -> its expiry
)

var allBuckets = [][]byte{
	bucketClients, bucketUsers, bucketUsernames, bucketKeys, bucketRateLimit,
	bucketFamilies, bucketUserFamilies, bucketClientFamilies, bucketCodes, bucketDenied, bucketSessions, bucketConsents, bucketSessionClients,
	bucketIATs, bucketKeyRotations, bucketOnce, bucketExpiry, bucketMeta, bucketResources,
}

const (
	// lockTimeout bounds the wait for the file lock, so a second process on
	// the same data directory fails at start-up instead of hanging.
	lockTimeout = 2 * time.Second
	purgeEvery  = time.Minute
)

// Store is the embedded backend. It is safe for concurrent use.
type Store struct {
	db        *bolt.DB
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	// observe, if set, is told of every view and update (metrics).
	observe func(op string, began time.Time, err error)
	// afterPurgeBatch, if set, is told of every janitor transaction (tests).
	afterPurgeBatch func(batchReport)
}

// Observe has fn told of every transaction: op "view" or "update", when it
// began, and its error. Call it before the store is used.
func (s *Store) Observe(fn func(op string, began time.Time, err error)) { s.observe = fn }

// Open opens (creating if needed) the store file at path, typically
// <data_dir>/authserver.db. The directory is created 0700 and the file 0600:
// it holds password hashes and sealed signing keys.
func Open(path string) (*Store, error) {
	return open(path, lockTimeout, purgeEvery)
}

func open(path string, lockWait, purgeInterval time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("embedded store: %s is locked by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = buildExpiryIndex(db)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store: init %s: %w", path, err)
	}
	// Writes that arrive together share one commit and one fsync (see
	// update); a lone write waits at most this long for company.
	db.MaxBatchDelay = batchDelay
	s := &Store{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go s.janitor(purgeInterval)
	return s, nil
}

// Close stops the janitor and closes the file. Later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

func (s *Store) janitor(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			// A failed purge is retried on the next tick; reads already
			// treat expired records as absent.
			_, _ = s.purge(time.Now())
		}
	}
}

// batchDelay bounds how long a write waits for others to share its commit.
const batchDelay = time.Millisecond

// update runs fn in a read-write transaction, committed (and fsynced) only
// if fn returns nil, and returns once it is on disk. Concurrent updates are
// batched into one transaction (bbolt's Batch): each still sees the ones
// before it, but they share one fsync, which otherwise bounds every write
// (a refresh rotation, a code redemption). Batch may run fn more than once,
// so fn only sets its results, never accumulates them.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return outage(err)
	}
	if s.observe == nil {
		return outage(s.db.Batch(fn))
	}
	began := time.Now()
	err := outage(s.db.Batch(fn))
	s.observe("update", began, err)
	return err
}

func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return outage(err)
	}
	if s.observe == nil {
		return outage(s.db.View(fn))
	}
	began := time.Now()
	err := outage(s.db.View(fn))
	s.observe("view", began, err)
	return err
}

// Ping reads the file in a transaction: it fails once the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketClients) == nil {
			return errors.New("embedded store: clients bucket missing")
		}
		return nil
	})
}

// outage marks the errors that mean the file cannot serve now (closed, read
// only, disk full or failing, past the request's deadline) as
// store.ErrUnavailable; anything else (a decode error, a contract error)
// is returned as it is.
func outage(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolt.ErrDatabaseNotOpen), errors.Is(err, bolt.ErrDatabaseReadOnly),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EIO),
		errors.Is(err, syscall.EROFS), errors.Is(err, context.DeadlineExceeded):
		return store.Unavailable(err)
	}
	return err
}

// getJSON decodes the value under key into v and reports whether there was one.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("embedded store: decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// pairKey joins two strings into one key that no other pair produces: the
// first is length-prefixed, so ("a:b", "c") and ("a", "b:c") differ.
func pairKey(a, b string) []byte {
	k := binary.AppendUvarint(nil, uint64(len(a)))
	k = append(k, a...)
	return append(k, b...)
}

// live reports whether a record with that deadline is still valid at now.
// A zero deadline is already past: "until" the zero time means not at all.
func live(deadline, now time.Time) bool {
	return now.Before(deadline)
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
