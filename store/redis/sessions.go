package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
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

// scriptSessionClientAdd: KEYS[1] = {slog:user} (sid NUL client -> expiry
// in Unix ms); ARGV = field, expiry ms, now ms, the cap. Drops expired
// fields, and the one ending first at the cap, keeps the later expiry of a
// field added again, and stretches the key's expiry to its latest field, in
// one step, so two sign-ins at once cannot shorten each other's.
var scriptSessionClientAdd = redis.NewScript(`
local now = tonumber(ARGV[3])
local exp = ARGV[2]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and tonumber(old) > tonumber(exp) then exp = old end
local latest = tonumber(exp)
local count, firstField, firstExp = 0, nil, nil
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f, e = all[i], tonumber(all[i + 1])
  if e == nil or e <= now then
    redis.call('HDEL', KEYS[1], f)
  elseif f ~= ARGV[1] then
    count = count + 1
    if e > latest then latest = e end
    if firstExp == nil or e < firstExp then firstField, firstExp = f, e end
  end
end
if count >= tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], firstField) end
redis.call('HSET', KEYS[1], ARGV[1], exp)
redis.call('PEXPIREAT', KEYS[1], latest)
return 1
`)

// sessionClientField names one (session, client) pair; a sid (base64url)
// holds no NUL.
func sessionClientField(sc sessions.SessionClient) string {
	return sc.SessionID + "\x00" + sc.ClientID
}

// AddSessionClient implements sessions.Store (scriptSessionClientAdd).
func (s *Store) AddSessionClient(ctx context.Context, userID string, sc sessions.SessionClient) error {
	err := scriptSessionClientAdd.Run(ctx, s.rdb, []string{s.key("slog", userID)},
		sessionClientField(sc), sc.ExpiresAt.UnixMilli(), time.Now().UnixMilli(), sessions.MaxSessionClients).Err()
	return wrap("add session client", err)
}

// SessionClients implements sessions.Store.
func (s *Store) SessionClients(ctx context.Context, userID string) ([]sessions.SessionClient, error) {
	all, err := s.rdb.HGetAll(ctx, s.key("slog", userID)).Result()
	if err != nil {
		return nil, wrap("list session clients", err)
	}
	now := time.Now().UnixMilli()
	var out []sessions.SessionClient
	for f, v := range all {
		sid, clientID, ok := strings.Cut(f, "\x00")
		ms, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || ms <= now {
			continue
		}
		out = append(out, sessions.SessionClient{SessionID: sid, ClientID: clientID, ExpiresAt: time.UnixMilli(ms).UTC()})
	}
	return out, nil
}

// DeleteSessionClients implements sessions.Store: one HDEL of exactly
// the listed fields.
func (s *Store) DeleteSessionClients(ctx context.Context, userID string, scs []sessions.SessionClient) error {
	if len(scs) == 0 {
		return nil
	}
	fields := make([]string, len(scs))
	for i, sc := range scs {
		fields[i] = sessionClientField(sc)
	}
	return wrap("delete session clients", s.rdb.HDel(ctx, s.key("slog", userID), fields...).Err())
}
