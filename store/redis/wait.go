package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/store"
)

// WaitForReplicas makes the writes that decide whether a session lives
// (a family created, rotated or revoked) wait, on the same connection,
// until n replicas have them or timeout passes (WAIT). Replication is
// asynchronous: without it a master that dies just after answering takes
// the write with it. The answer goes out either way; a rotation that is
// lost all the same is recovered from the client's token (see
// tokens.Recovered). n = 0 (the default) turns it off.
func (s *Store) WaitForReplicas(n int, timeout time.Duration) {
	s.waitReplicas, s.waitTimeout = n, timeout
}

// runWrite runs a write script on key. With WaitForReplicas it sends the
// script and WAIT in one pipeline to the master that owns key, so WAIT
// covers exactly this write, in one round trip.
func (s *Store) runWrite(ctx context.Context, sc *redis.Script, key string, args ...any) *redis.Cmd {
	keys := []string{key}
	if s.waitReplicas <= 0 {
		return sc.Run(ctx, s.rdb, keys, args...)
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	master, err := s.master(ctx, key)
	if err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(markOutage(err))
		return cmd
	}
	run := func(bySHA bool) *redis.Cmd {
		p := master.Pipeline()
		var cmd *redis.Cmd
		if bySHA {
			cmd = sc.EvalSha(ctx, p, keys, args...)
		} else {
			cmd = sc.Eval(ctx, p, keys, args...)
		}
		p.Do(ctx, "wait", s.waitReplicas, s.waitTimeout.Milliseconds())
		_, _ = p.Exec(ctx) // each command's own result is read below
		return cmd
	}
	cmd := run(true)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = run(false)
	}
	// A cluster's node clients do not carry the hooks added to the cluster
	// client, so outages are marked here too.
	if err := cmd.Err(); err != nil {
		cmd.SetErr(markOutage(err))
	}
	return cmd
}

// master is the client of the master that owns key: the client itself
// unless it is a cluster's.
func (s *Store) master(ctx context.Context, key string) (*redis.Client, error) {
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("redisstore: cannot WAIT on a %T", s.rdb)
}

func markOutage(err error) error {
	if isOutage(err) {
		return store.Unavailable(err)
	}
	return err
}
