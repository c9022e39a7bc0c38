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
)

// expiring describes one kind: its bucket, how to read a record's deadline
// (ok false: the record does not decode and is left for someone to look
// at), and what else to delete with it.
type expiring struct {
	bucket   []byte
	deadline func(v []byte) (at time.Time, ok bool)
	onDelete func(tx *bolt.Tx, v []byte) error
}

var kinds = map[byte]expiring{
	kindRateLimit: {bucket: bucketRateLimit, deadline: func(v []byte) (time.Time, bool) {
		var w window
		return w.Until, json.Unmarshal(v, &w) == nil
	}},
	kindFamily: {bucket: bucketFamilies, deadline: func(v []byte) (time.Time, bool) {
		var rec familyRecord
		return rec.deadline(), json.Unmarshal(v, &rec) == nil
	}, onDelete: func(tx *bolt.Tx, v []byte) error {
		var rec familyRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		return dropIndex(tx, &rec)
	}},
	kindCode: {bucket: bucketCodes, deadline: func(v []byte) (time.Time, bool) {
		var rec codeRecord
		return rec.Code.ExpiresAt, json.Unmarshal(v, &rec) == nil
	}},
	kindDenied: {bucket: bucketDenied, deadline: func(v []byte) (time.Time, bool) {
		var until time.Time
		return until, json.Unmarshal(v, &until) == nil
	}},
	kindSession: {bucket: bucketSessions, deadline: func(v []byte) (time.Time, bool) {
		var sess sessions.Session
		return sess.ExpiresAt, json.Unmarshal(v, &sess) == nil
	}},
	kindIAT: {bucket: bucketIATs, deadline: func(v []byte) (time.Time, bool) {
		var t registration.InitialAccessToken
		if err := json.Unmarshal(v, &t); err != nil {
			return time.Time{}, false
		}
		if t.UsesLeft < 1 {
			return time.Time{}, true // used up: dead now
		}
		return t.ExpiresAt, true
	}},
}

// kindOrder lists the kinds in a fixed order, for the one-time build.
var kindOrder = []byte{kindRateLimit, kindFamily, kindCode, kindDenied, kindSession, kindIAT}

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
// index existed: one transaction reading every record that expires (with
// a million refresh families, seconds, once). Later opens only read the
// marker.
func buildExpiryIndex(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(metaExpiryIndex) != nil {
			return nil
		}
		for _, kind := range kindOrder {
			e := kinds[kind]
			err := tx.Bucket(e.bucket).ForEach(func(k, v []byte) error {
				if at, ok := e.deadline(v); ok {
					return indexExpiry(tx, kind, k, at)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("index %s: %w", e.bucket, err)
			}
		}
		return meta.Put(metaExpiryIndex, []byte("v1"))
	})
}

// purgeBatchSize bounds the index entries one janitor transaction handles,
// so the janitor holds the single writer lock for milliseconds at a time.
const purgeBatchSize = 1000

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
	at, ok := e.deadline(v)
	if !ok || live(at, now) {
		return false, true, nil
	}
	if e.onDelete != nil {
		if err := e.onDelete(tx, v); err != nil {
			return false, true, err
		}
	}
	return true, true, b.Delete(key)
}
