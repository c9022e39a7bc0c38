package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/sessions"
)

func (s *Store) SaveSession(ctx context.Context, hash []byte, sess sessions.Session) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var old sessions.Session
		if _, err := getJSON(b, hash, &old); err != nil {
			return err
		}
		if err := putJSON(b, hash, sess); err != nil {
			return err
		}
		return moveExpiry(tx, kindSession, hash, old.ExpiresAt, sess.ExpiresAt)
	})
}

func (s *Store) GetSession(ctx context.Context, hash []byte) (sessions.Session, error) {
	var sess sessions.Session
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketSessions), hash, &sess)
		if err == nil && (!ok || !live(sess.ExpiresAt, time.Now())) {
			err = sessions.ErrNotFound
		}
		return err
	})
	if err != nil {
		return sessions.Session{}, err
	}
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete(hash)
	})
}

func (s *Store) SaveConsent(ctx context.Context, c sessions.Consent) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketConsents), pairKey(c.UserID, c.ClientID), c)
	})
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (sessions.Consent, error) {
	var c sessions.Consent
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketConsents), pairKey(userID, clientID), &c)
		if err == nil && !ok {
			err = sessions.ErrNotFound
		}
		return err
	})
	if err != nil {
		return sessions.Consent{}, err
	}
	return c, nil
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConsents).Delete(pairKey(userID, clientID))
	})
}

// sessionClientKey is pairKey(user ID, sid NUL client ID): a user's records
// are one prefix, and a sid (base64url) holds no NUL.
func sessionClientKey(userID string, sc sessions.SessionClient) []byte {
	return pairKey(userID, sc.SessionID+"\x00"+sc.ClientID)
}

// userPrefix is the pairKey prefix of every record of userID.
func userPrefix(userID string) []byte { return pairKey(userID, "") }

func (s *Store) AddSessionClient(ctx context.Context, userID string, sc sessions.SessionClient) error {
	now := time.Now()
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessionClients)
		key := sessionClientKey(userID, sc)
		var old sessions.SessionClient
		found, err := getJSON(b, key, &old)
		if err != nil {
			return err
		}
		if !found {
			if err := s.makeRoomForSessionClient(tx, userID, now); err != nil {
				return err
			}
		}
		if found && old.ExpiresAt.After(sc.ExpiresAt) {
			sc.ExpiresAt = old.ExpiresAt
		}
		if err := putJSON(b, key, sc); err != nil {
			return err
		}
		return moveExpiry(tx, kindSessionClient, key, old.ExpiresAt, sc.ExpiresAt)
	})
}

// makeRoomForSessionClient drops the user's expired records and, at
// sessions.MaxSessionClients, the one that ends first.
func (s *Store) makeRoomForSessionClient(tx *bolt.Tx, userID string, now time.Time) error {
	b := tx.Bucket(bucketSessionClients)
	prefix := userPrefix(userID)
	var count int
	var firstKey []byte
	var first sessions.SessionClient
	var dead [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var sc sessions.SessionClient
		if err := json.Unmarshal(v, &sc); err != nil || !live(sc.ExpiresAt, now) {
			dead = append(dead, bytes.Clone(k))
			continue
		}
		count++
		if firstKey == nil || sc.ExpiresAt.Before(first.ExpiresAt) {
			firstKey, first = bytes.Clone(k), sc
		}
	}
	if count >= sessions.MaxSessionClients {
		dead = append(dead, firstKey)
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) SessionClients(ctx context.Context, userID string) ([]sessions.SessionClient, error) {
	now := time.Now()
	var out []sessions.SessionClient
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := userPrefix(userID)
		c := tx.Bucket(bucketSessionClients).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var sc sessions.SessionClient
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("session client record: %w", err)
			}
			if live(sc.ExpiresAt, now) {
				out = append(out, sc)
			}
		}
		return nil
	})
	return out, err
}

func (s *Store) DeleteSessionClients(ctx context.Context, userID string, scs []sessions.SessionClient) error {
	if len(scs) == 0 {
		return nil
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessionClients)
		for _, sc := range scs {
			if err := b.Delete(sessionClientKey(userID, sc)); err != nil {
				return err
			}
		}
		return nil
	})
}
