package redisstore

import (
	"context"
	"time"

	"authserver/tokens"
)

// SaveCode implements tokens.CodeStore: the code's hash is the key, which
// expires at c.ExpiresAt.
func (s *Store) SaveCode(ctx context.Context, hash []byte, c tokens.Code) error {
	id, err := hashID(hash)
	if err != nil {
		return err
	}
	d, err := marshal(c)
	if err != nil {
		return err
	}
	err = scriptCodeSave.Run(ctx, s.rdb, []string{s.key("code", id)},
		d, nanos(c.ExpiresAt), expireAtMs(c.ExpiresAt)).Err()
	return wrap("save code", err)
}

// RedeemCode implements tokens.CodeStore in one script (scriptCodeRedeem).
// Expiry is judged by now, as the caller sees it; the key's TTL only
// reclaims the memory.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time) (tokens.Code, error) {
	id, err := hashID(hash)
	if err != nil {
		return tokens.Code{}, err
	}
	res, err := scriptCodeRedeem.Run(ctx, s.rdb, []string{s.key("code", id)}, nanos(now)).Slice()
	if err != nil {
		return tokens.Code{}, wrap("redeem code", err)
	}
	outcome, _ := res[0].(int64)
	if outcome == codeNotFound || len(res) < 2 {
		return tokens.Code{}, tokens.ErrCodeNotFound
	}
	d, _ := res[1].(string)
	var c tokens.Code
	if err := unmarshal(d, &c); err != nil {
		return tokens.Code{}, err
	}
	if outcome == codeReused {
		return c, tokens.ErrCodeReused
	}
	return c, nil
}

// DenyJTI implements tokens.DenyList: one key per jti, expiring at until.
func (s *Store) DenyJTI(ctx context.Context, jti string, until time.Time) error {
	if !until.After(time.Now()) {
		return nil // the token has expired: nothing left to deny
	}
	err := s.rdb.Do(ctx, "SET", s.key("deny", jti), "1", "PXAT", expireAtMs(until)).Err()
	return wrap("deny jti", err)
}

// IsDenied implements tokens.DenyList.
func (s *Store) IsDenied(ctx context.Context, jti string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.key("deny", jti)).Result()
	if err != nil {
		return false, wrap("is denied", err)
	}
	return n == 1, nil
}
