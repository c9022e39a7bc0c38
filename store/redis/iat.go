package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/registration"
)

// An initial access token is the hash {iat:<sha256 hex>} with fields uses
// (uses left) and exp (nanos), expiring at exp.

// scriptIATCreate: KEYS[1] = {iat:hash}; ARGV = uses, exp, expire-at ms.
// Creates the token unless the key exists (0).
var scriptIATCreate = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'uses', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`)

// scriptIATUse: KEYS[1] = {iat:hash}; ARGV[1] = now. Spends one use and
// returns the uses left, deleting the key with its last use; -1 when the
// token is missing, expired at now or used up. One script, so of racing
// callers exactly as many win as there were uses.
var scriptIATUse = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'uses', 'exp')
if not v[1] or not v[2] or ARGV[1] >= v[2] then return -1 end
local n = tonumber(v[1])
if not n or n < 1 then return -1 end
if n == 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('HINCRBY', KEYS[1], 'uses', -1)
`)

// CreateInitialAccessToken implements registration.TokenStore.
func (s *Store) CreateInitialAccessToken(ctx context.Context, hash []byte, t registration.InitialAccessToken) error {
	id, err := hashID(hash)
	if err != nil {
		return err
	}
	if t.UsesLeft < 1 {
		return errors.New("redisstore: an initial access token needs at least one use")
	}
	ok, err := scriptIATCreate.Run(ctx, s.rdb, []string{s.key("iat", id)},
		t.UsesLeft, nanos(t.ExpiresAt), expireAtMs(t.ExpiresAt)).Int()
	if err != nil {
		return wrap("create initial access token", err)
	}
	if ok == 0 {
		return registration.ErrTokenExists
	}
	return nil
}

// LookupInitialAccessToken implements registration.TokenStore: one HMGET,
// judged by now.
func (s *Store) LookupInitialAccessToken(ctx context.Context, hash []byte, now time.Time) (registration.InitialAccessToken, error) {
	id, err := hashID(hash)
	if err != nil {
		return registration.InitialAccessToken{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	v, err := s.rdb.HMGet(ctx, s.key("iat", id), "uses", "exp").Result()
	if err != nil {
		return registration.InitialAccessToken{}, wrap("lookup initial access token", err)
	}
	usesS, _ := v[0].(string)
	expS, _ := v[1].(string)
	if usesS == "" || expS == "" || nanos(now) >= expS {
		return registration.InitialAccessToken{}, registration.ErrTokenInvalid
	}
	uses, err := strconv.ParseInt(usesS, 10, 64)
	if err != nil || uses < 1 {
		return registration.InitialAccessToken{}, registration.ErrTokenInvalid
	}
	exp, err := parseNanos(expS)
	if err != nil {
		return registration.InitialAccessToken{}, err
	}
	return registration.InitialAccessToken{ExpiresAt: exp, UsesLeft: uses}, nil
}

// UseInitialAccessToken implements registration.TokenStore in one script
// (scriptIATUse).
func (s *Store) UseInitialAccessToken(ctx context.Context, hash []byte, now time.Time) (int64, error) {
	id, err := hashID(hash)
	if err != nil {
		return 0, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	left, err := scriptIATUse.Run(ctx, s.rdb, []string{s.key("iat", id)}, nanos(now)).Int64()
	if err != nil {
		return 0, wrap("use initial access token", err)
	}
	if left < 0 {
		return 0, registration.ErrTokenInvalid
	}
	return left, nil
}
