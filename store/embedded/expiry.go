package embedded

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/registration"
	"authserver/sessions"
)

// The expiry index lets the janitor find what expired without reading what
// did not. bucketExpiry holds one empty value per (deadline, record) under
//
//	8 bytes big-endian deadline in unix nanoseconds | 1 byte kind | record key
//
// so a cursor from the start walks deadlines in order and stops at now.
//
// The invariant: every record that expires has an entry at its current
// deadline, written in the transaction that sets or moves it. An entry at
// any other time is stale (the record moved on, or is gone) and harmless:
// the janitor re-reads the record before deleting it and then drops the
// entry. Writers remove the old entry when they have the old record at
// hand, which keeps stale entries few.
var (
	bucketExpiry = []byte("expiry")
	bucketMeta   = []byte("meta")
	// metaExpiryIndex is set once the index covers every record; a file
	// from before the index lacks it and is indexed once at open.
	metaExpiryIndex = []byte("expiry_index")
)

// The kinds of record that expire, as the index's kind byte.
const (
	kindRateLimit byte = iota + 1
	kindFamily
	kindCode
	kindDenied
	kindSession
	kindIAT
	kindSessionClient
	kindOnce
)

// expiring describes one kind: its bucket, and how to read a record's
// deadline (ok false: the record does not decode and is left for someone
// to look at) and what else must go with it (nil: nothing), from one
// decode.
type expiring struct {
	bucket []byte
	read   func(v []byte) (at time.Time, also func(*bolt.Tx) error, ok bool)
}

// deadline is read without the rest.
func (e expiring) deadline(v []byte) (time.Time, bool) {
	at, _, ok := e.read(v)
	return at, ok
}

// at adapts a decoder of a deadline alone.
func at(f func(v []byte) (time.Time, bool)) func(v []byte) (time.Time, func(*bolt.Tx) error, bool) {
	return func(v []byte) (time.Time, func(*bolt.Tx) error, bool) {
		t, ok := f(v)
		return t, nil, ok
	}
}

var kinds = map[byte]expiring{
	kindRateLimit: {bucket: bucketRateLimit, read: at(func(v []byte) (time.Time, bool) {
		var w window
		err := json.Unmarshal(v, &w)
		return w.Until, err == nil
	})},
	kindFamily: {bucket: bucketFamilies, read: func(v []byte) (time.Time, func(*bolt.Tx) error, bool) {
		var rec familyRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return time.Time{}, nil, false
		}
		return rec.deadline(), func(tx *bolt.Tx) error { return dropIndex(tx, &rec) }, true
	}},
	kindCode: {bucket: bucketCodes, read: at(func(v []byte) (time.Time, bool) {
		var rec codeRecord
		err := json.Unmarshal(v, &rec)
		return rec.Code.ExpiresAt, err == nil
	})},
	kindDenied: {bucket: bucketDenied, read: at(func(v []byte) (time.Time, bool) {
		var until time.Time
		err := json.Unmarshal(v, &until)
		return until, err == nil
	})},
	kindSession: {bucket: bucketSessions, read: at(func(v []byte) (time.Time, bool) {
		var sess sessions.Session
		err := json.Unmarshal(v, &sess)
		return sess.ExpiresAt, err == nil
	})},
	kindSessionClient: {bucket: bucketSessionClients, read: at(func(v []byte) (time.Time, bool) {
		var sc sessions.SessionClient
		err := json.Unmarshal(v, &sc)
		return sc.ExpiresAt, err == nil
	})},
	kindOnce: {bucket: bucketOnce, read: at(func(v []byte) (time.Time, bool) {
		var until time.Time
		err := json.Unmarshal(v, &until)
		return until, err == nil
	})},
	kindIAT: {bucket: bucketIATs, read: at(func(v []byte) (time.Time, bool) {
		var t registration.InitialAccessToken
		if err := json.Unmarshal(v, &t); err != nil {
			return time.Time{}, false
		}
		if t.UsesLeft < 1 {
			return time.Time{}, true // used up: dead now
		}
		return t.ExpiresAt, true
	})},
}

// kindOrder lists the kinds in a fixed order, for the one-time build.
var kindOrder = []byte{kindRateLimit, kindFamily, kindCode, kindDenied, kindSession, kindIAT, kindSessionClient, kindOnce}

// deadline is when the record stops counting (see liveAt).
func (r *familyRecord) deadline() time.Time {
	if r.Tombstone {
		return r.TombstoneUntil
	}
	if r.Family.IdleExpiresAt.Before(r.Family.ExpiresAt) {
		return r.Family.IdleExpiresAt
	}
	return r.Family.ExpiresAt
}

// expiryNanos is at in unix nanoseconds, clamped to what the index orders:
// anything before 1970 (the zero time: already dead) sorts first, anything
// past 2262 last.
func expiryNanos(at time.Time) uint64 {
	switch {
	case at.Before(time.Unix(0, 0)):
		return 0
	case at.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return uint64(at.UnixNano())
}

func expiryKey(at time.Time, kind byte, key []byte) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(key)), expiryNanos(at))
	k = append(k, kind)
	return append(k, key...)
}

// indexExpiry records that the record key of kind expires at at.
func indexExpiry(tx *bolt.Tx, kind byte, key []byte, at time.Time) error {
	return tx.Bucket(bucketExpiry).Put(expiryKey(at, kind, key), nil)
}

// moveExpiry replaces the entry at was (the record's deadline before this
// write) with one at now.
func moveExpiry(tx *bolt.Tx, kind byte, key []byte, was, at time.Time) error {
	if expiryNanos(was) != expiryNanos(at) {
		if err := tx.Bucket(bucketExpiry).Delete(expiryKey(was, kind, key)); err != nil {
			return err
		}
	}
	return indexExpiry(tx, kind, key, at)
}

// buildExpiryIndex indexes every record once, for a file written before the
// index existed, before the store serves anything. It reads every record
// that expires, buildBatchSize to a transaction (bbolt slows down sharply
// with very large ones): with a million refresh families, about ten seconds,
// once. The marker is set last, so a build cut short starts over on the
// next open; writing an entry again is harmless.
func buildExpiryIndex(db *bolt.DB) error {
	var built bool
	err := db.View(func(tx *bolt.Tx) error {
		built = tx.Bucket(bucketMeta).Get(metaExpiryIndex) != nil
		return nil
	})
	if err != nil || built {
		return err
	}
	for _, kind := range kindOrder {
		var after []byte // last key indexed; nil: from the start
		for done := false; !done; {
			err := db.Update(func(tx *bolt.Tx) error {
				var err error
				after, done, err = indexSome(tx, kind, after)
				return err
			})
			if err != nil {
				return fmt.Errorf("index %s: %w", kinds[kind].bucket, err)
			}
		}
	}
	return db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaExpiryIndex, []byte("v1"))
	})
}

// buildBatchSize is how many records one transaction of the build indexes.
const buildBatchSize = 10_000

// indexSome indexes up to buildBatchSize records of kind after key after,
// and returns the last one and whether the bucket is done.
func indexSome(tx *bolt.Tx, kind byte, after []byte) ([]byte, bool, error) {
	e := kinds[kind]
	c := tx.Bucket(e.bucket).Cursor()
	k, v := c.First()
	if after != nil {
		if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	for n := 0; k != nil; k, v = c.Next() {
		if n == buildBatchSize {
			return after, false, nil
		}
		if at, ok := e.deadline(v); ok {
			if err := indexExpiry(tx, kind, k, at); err != nil {
				return nil, false, err
			}
		}
		after, n = bytes.Clone(k), n+1
	}
	return after, true, nil
}

// purgeBatchSize bounds the index entries one janitor transaction handles,
// so the janitor holds the single writer lock for tens of milliseconds at a
// time: at 1M families a batch of 500 expired ones took up to 44 ms, one of
// 1000 up to 73 ms (BenchmarkJanitorPass).
const purgeBatchSize = 500

// batchReport is what one janitor transaction did.
type batchReport struct {
	Entries int // index entries handled (each then deleted)
	Visited int // records read to re-check their deadline
	Deleted int // expired records deleted
}

// purgeBatch handles up to limit index entries due at now: each record
// whose deadline has passed is deleted, and every entry handled is dropped
// (for a record that lives on, the entry was stale).
func purgeBatch(tx *bolt.Tx, now time.Time, limit int) (batchReport, error) {
	var rep batchReport
	idx := tx.Bucket(bucketExpiry)
	due := dueEntries(idx, now, limit)
	for _, k := range due {
		var gone, visited bool
		var err error
		if len(k) > 9 {
			gone, visited, err = expireRecord(tx, k[8], k[9:], now)
		}
		if err != nil {
			return rep, err
		}
		if visited {
			rep.Visited++
		}
		if gone {
			rep.Deleted++
		}
		if err := idx.Delete(k); err != nil {
			return rep, err
		}
	}
	rep.Entries = len(due)
	return rep, nil
}

// dueEntries returns up to limit index keys with a deadline at or before
// now, copied: bbolt's slices die with changes to the bucket.
func dueEntries(idx *bolt.Bucket, now time.Time, limit int) [][]byte {
	horizon := expiryNanos(now)
	var due [][]byte
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && len(due) < limit; k, _ = c.Next() {
		if len(k) >= 8 && binary.BigEndian.Uint64(k) > horizon {
			break
		}
		due = append(due, bytes.Clone(k)) // a malformed key too: it is dropped
	}
	return due
}

// expireRecord deletes the record if its own deadline has passed at now.
func expireRecord(tx *bolt.Tx, kind byte, key []byte, now time.Time) (gone, visited bool, err error) {
	e, known := kinds[kind]
	if !known {
		return false, false, nil
	}
	b := tx.Bucket(e.bucket)
	v := b.Get(key)
	if v == nil {
		return false, false, nil
	}
	deadline, also, ok := e.read(v)
	if !ok || live(deadline, now) {
		return false, true, nil
	}
	if also != nil {
		if err := also(tx); err != nil {
			return false, true, err
		}
	}
	return true, true, b.Delete(key)
}
