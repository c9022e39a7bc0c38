//go:build unix

package redisstore

import (
	"context"
	"encoding/hex"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/store/redistest"
	"authserver/tokens"
)

// waitSpy records what each WAIT answered that followed a write which
// succeeded (a NOSCRIPT attempt is sent again by EVAL, with its own WAIT).
type waitSpy struct {
	mu   sync.Mutex
	acks []int64
}

func (w *waitSpy) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (w *waitSpy) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (w *waitSpy) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for i, c := range cmds {
			if c.Name() == "wait" && i > 0 && cmds[i-1].Err() == nil {
				n, _ := c.(*redis.Cmd).Int64()
				w.mu.Lock()
				w.acks = append(w.acks, n)
				w.mu.Unlock()
			}
		}
		return err
	}
}

func (w *waitSpy) last(t *testing.T, want int) []int64 {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.acks) != want {
		t.Fatalf("%d WAITs sent (%v), want %d", len(w.acks), w.acks, want)
	}
	return w.acks
}

// TestWaitForReplicas: with WaitForReplicas each family write goes out
// with a WAIT on the same connection, so the replica has it the moment it
// is answered; a stalled replica delays the answer by the timeout only.
func TestWaitForReplicas(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	st := openStore(t, Options{MasterName: s.MasterName, Addrs: s.SentinelAddrs, KeyPrefix: randPrefix()})
	st.WaitForReplicas(1, time.Second)
	replicaOnline(t, s.DataAddrs[0])
	spy := &waitSpy{}
	st.rdb.AddHook(spy)
	ctx := t.Context()

	fam, tok := seed(t, st)
	next := sha("second")
	if _, o, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: fam.ID, ClientID: fam.ClientID,
		Presented: tok, Next: next, NextJTI: "j2", Now: time.Now(), Idle: time.Hour}); err != nil || o != tokens.Rotated {
		t.Fatalf("RotateRefresh: %v, %v", o, err)
	}
	if acks := spy.last(t, 2); acks[0] != 1 || acks[1] != 1 {
		t.Fatalf("WAIT answers %v, want the replica's acknowledgement of the create and the rotation", acks)
	}
	replica := redistest.NewClient(t, s.DataAddrs[1])
	if cur := replica.HGet(ctx, st.key("fam", fam.ID), "cur").Val(); cur != hex.EncodeToString(next) {
		t.Fatalf("replica holds current %q right after the answer, want the rotation's %x", cur, next)
	}

	// A replica that stops answering: the rotation is still answered, once
	// the wait runs out, unacknowledged.
	pid := s.PID(t, s.DataAddrs[1])
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	if _, o, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: fam.ID, ClientID: fam.ClientID,
		Presented: next, Generation: 1, Next: sha("third"), NextJTI: "j3", Now: time.Now(), Idle: time.Hour}); err != nil || o != tokens.Rotated {
		t.Fatalf("RotateRefresh with the replica stalled: %v, %v", o, err)
	}
	if acks := spy.last(t, 3); acks[2] != 0 {
		t.Fatalf("WAIT with the replica stalled answered %d, want 0", acks[2])
	}
}

// replicaOnline waits until the master at addr has a replica that
// acknowledges a write (its first sync may still run when the group is up).
func replicaOnline(t *testing.T, addr string) {
	t.Helper()
	c := redistest.NewClient(t, addr)
	deadline := time.Now().Add(15 * time.Second)
	for {
		p := c.Pipeline()
		p.Set(t.Context(), "replica-online-probe", "1", time.Minute)
		wait := p.Do(t.Context(), "wait", 1, 500)
		_, _ = p.Exec(t.Context())
		if n, _ := wait.Int64(); n >= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never acknowledged a write")
		}
	}
}
