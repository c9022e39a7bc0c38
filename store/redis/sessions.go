package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/sessions"
)

// SaveSession implements sessions.Store: the cookie's hash is the key, which
// expires at s.ExpiresAt.
func (s *Store) SaveSession(ctx context.Context, hash []byte, sess sessions.Session) error {
	id, err := hashID(hash)
	if err != nil {
		return err
	}
	d, err := marshal(sess)
	if err != nil {
		return err
	}
	// PXAT in the past stores nothing, which is what an expired session is.
	err = s.rdb.Do(ctx, "SET", s.key("sess", id), d, "PXAT", expireAtMs(sess.ExpiresAt)).Err()
	return wrap("save session", err)
}

// GetSession implements sessions.Store.
func (s *Store) GetSession(ctx context.Context, hash []byte) (sessions.Session, error) {
	id, err := hashID(hash)
	if err != nil {
		return sessions.Session{}, err
	}
	d, err := s.rdb.Get(ctx, s.key("sess", id)).Result()
	if errors.Is(err, redis.Nil) {
		return sessions.Session{}, sessions.ErrNotFound
	}
	if err != nil {
		return sessions.Session{}, wrap("get session", err)
	}
	var sess sessions.Session
	if err := unmarshal(d, &sess); err != nil {
		return sessions.Session{}, err
	}
	// The key may outlive ExpiresAt by Redis's expiry granularity.
	if !time.Now().Before(sess.ExpiresAt) {
		return sessions.Session{}, sessions.ErrNotFound
	}
	return sess, nil
}

// DeleteSession implements sessions.Store.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	id, err := hashID(hash)
	if err != nil {
		return err
	}
	return wrap("delete session", s.rdb.Del(ctx, s.key("sess", id)).Err())
}

// SaveConsent implements sessions.Store. A user's consents are the fields of
// one hash keyed by user, one field per client: key and field are separate
// strings, so no (user, client) pair can collide with another.
func (s *Store) SaveConsent(ctx context.Context, c sessions.Consent) error {
	d, err := marshal(c)
	if err != nil {
		return err
	}
	return wrap("save consent", s.rdb.HSet(ctx, s.key("consent", c.UserID), c.ClientID, d).Err())
}

// GetConsent implements sessions.Store.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (sessions.Consent, error) {
	d, err := s.rdb.HGet(ctx, s.key("consent", userID), clientID).Result()
	if errors.Is(err, redis.Nil) {
		return sessions.Consent{}, sessions.ErrNotFound
	}
	if err != nil {
		return sessions.Consent{}, wrap("get consent", err)
	}
	var c sessions.Consent
	if err := unmarshal(d, &c); err != nil {
		return sessions.Consent{}, err
	}
	return c, nil
}

// DeleteConsent implements sessions.Store.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return wrap("delete consent", s.rdb.HDel(ctx, s.key("consent", userID), clientID).Err())
}
