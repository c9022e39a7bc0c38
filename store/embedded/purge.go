package embedded

import (
	"bytes"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/registration"
	"authserver/sessions"
)

// purge deletes every record expired at now, one transaction per bucket so a
// large sweep does not hold the single writer lock for long. A record that
// does not decode is left alone for someone to look at.
func (s *Store) purge(now time.Time) error {
	sweeps := []struct {
		bucket []byte
		dead   func(tx *bolt.Tx, v []byte) (bool, error)
	}{
		{bucketRateLimit, func(_ *bolt.Tx, v []byte) (bool, error) {
			var w window
			return json.Unmarshal(v, &w) == nil && !live(w.Until, now), nil
		}},
		{bucketFamilies, func(tx *bolt.Tx, v []byte) (bool, error) {
			var rec familyRecord
			if json.Unmarshal(v, &rec) != nil {
				return false, nil
			}
			if rec.liveAt(now) {
				return false, nil
			}
			return true, dropIndex(tx, &rec)
		}},
		{bucketCodes, func(_ *bolt.Tx, v []byte) (bool, error) {
			var rec codeRecord
			return json.Unmarshal(v, &rec) == nil && !live(rec.Code.ExpiresAt, now), nil
		}},
		{bucketDenied, func(_ *bolt.Tx, v []byte) (bool, error) {
			var until time.Time
			return json.Unmarshal(v, &until) == nil && !live(until, now), nil
		}},
		{bucketSessions, func(_ *bolt.Tx, v []byte) (bool, error) {
			var sess sessions.Session
			return json.Unmarshal(v, &sess) == nil && !live(sess.ExpiresAt, now), nil
		}},
		{bucketIATs, func(_ *bolt.Tx, v []byte) (bool, error) {
			var t registration.InitialAccessToken
			return json.Unmarshal(v, &t) == nil && !usableIAT(t, now), nil
		}},
	}
	for _, sw := range sweeps {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(sw.bucket)
			var doomed [][]byte
			err := b.ForEach(func(k, v []byte) error {
				dead, err := sw.dead(tx, v)
				if dead {
					doomed = append(doomed, bytes.Clone(k))
				}
				return err
			})
			if err != nil {
				return err
			}
			for _, k := range doomed {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
