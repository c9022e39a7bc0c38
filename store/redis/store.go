package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/store"
)

var _ store.Backend = (*Store)(nil)

// Store is a store.Backend on one Redis deployment (standalone, Sentinel or
// Cluster), reached through a redis.UniversalClient.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	// See WaitForReplicas.
	waitReplicas int
	waitTimeout  time.Duration
}

// New returns a Store on client. Every key starts with keyPrefix, so several
// deployments (or tests) can share one Redis. The Store owns the client:
// Close closes it.
func New(client redis.UniversalClient, keyPrefix string) *Store {
	client.AddHook(outageHook{})
	return &Store{rdb: client, prefix: keyPrefix}
}

// Open connects as Connect does and returns a Store with o.KeyPrefix.
func Open(ctx context.Context, o Options) (*Store, error) {
	c, err := Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	return New(c, o.KeyPrefix), nil
}

// Close closes the Redis client.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping checks that Redis answers (on a cluster, one node).
func (s *Store) Ping(ctx context.Context) error {
	return wrap("ping", s.rdb.Ping(ctx).Err())
}

// Client returns the underlying client (for health checks and metrics).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// key names one record: the prefix, then {kind:id}. The braces make kind:id
// the hash tag, so every key of one record (and any key added beside it
// later as {kind:id}:suffix) lands in one cluster slot.
func (s *Store) key(kind, id string) string {
	return s.prefix + "{" + kind + ":" + id + "}"
}

// global names a store-wide key (an index): the prefix, then {name}.
func (s *Store) global(name string) string {
	return s.prefix + "{" + name + "}"
}

// hashID turns the SHA-256 the caller passes into the hex used in a key. It
// refuses anything else, so a raw token passed by mistake never becomes a
// key.
func hashID(h []byte) (string, error) {
	if len(h) != sha256.Size {
		return "", fmt.Errorf("redisstore: want a %d-byte SHA-256, got %d bytes", sha256.Size, len(h))
	}
	return hex.EncodeToString(h), nil
}

// Times go into Lua as 20-digit zero-padded Unix nanoseconds: strings of one
// width compare in time order, exactly to the nanosecond, which Lua's
// doubles (53 bits) could not do with the numbers themselves.
var maxNanoTime = time.Unix(0, math.MaxInt64)

func nanos(t time.Time) string {
	switch {
	case t.Before(time.Unix(0, 0)):
		return fmt.Sprintf("%020d", 0)
	case t.After(maxNanoTime):
		return fmt.Sprintf("%020d", int64(math.MaxInt64))
	}
	return fmt.Sprintf("%020d", t.UnixNano())
}

func parseNanos(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redisstore: bad time %q: %w", s, err)
	}
	return time.Unix(0, n), nil
}

// expireAtMs is the PEXPIREAT/PXAT argument for t: rounded up, so a key never
// vanishes before its record expires, and at least 1 (Redis refuses 0; any
// past time deletes the key at once, which is what a past expiry means).
func expireAtMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return max(ms, 1)
}

// millis returns d in whole milliseconds, rounded up and at least 1.
func millis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("redisstore: encode: %w", err)
	}
	return string(b), nil
}

func unmarshal(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("redisstore: decode: %w", err)
	}
	return nil
}

// wrap adds context to a Redis error; contract errors are returned as they
// are by the callers before they reach here.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// execPipe runs a pipeline whose commands may answer nil (a missing key):
// those are not failures, and each command's own result is read afterwards.
func execPipe(ctx context.Context, p redis.Pipeliner) error {
	_, err := p.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}
