package embedded

import (
	"context"
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
