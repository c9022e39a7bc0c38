package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is a test clock the managers read through SetClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var lifecycle = Settings{PublishAhead: 6 * time.Minute, TokenLifetime: 15 * time.Minute, RetireMargin: 2 * time.Minute}

func clockedManager(t *testing.T, store Store, c *clock, s Settings) *Manager {
	t.Helper()
	m, err := NewManager(store, testSecret(1), ES256, s)
	if err != nil {
		t.Fatal(err)
	}
	m.SetClock(c.now)
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func published(t *testing.T, m *Manager, kid string) bool {
	t.Helper()
	_, ok := publicFromJWKS(t, m.JWKS())[kid]
	return ok
}

func stateOf(m *Manager, kid string) string { return m.info(kid).State }

func TestRotatedKeyIsPublishedBeforeItSignsAndRetiresAfterItsTokens(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	t0 := c.now()
	store := &memStore{}
	m := clockedManager(t, store, c, lifecycle)
	other := clockedManager(t, store, c, lifecycle)
	old := m.SigningKey().ID
	oldCreated := m.SigningKeyCreated()

	c.set(t0.Add(time.Minute))
	rotated, err := m.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.SignsFrom.Equal(t0.Add(7*time.Minute)) || rotated.State != StatePending {
		t.Fatalf("rotated key = %+v, want pending until t0+1m+6m", rotated)
	}
	// The age metric follows the key that signs, not the newest one.
	if !m.SigningKeyCreated().Equal(oldCreated) {
		t.Errorf("signing key created %v, want the old key's %v", m.SigningKeyCreated(), oldCreated)
	}
	if err := other.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Manager{m, other} {
		if !published(t, n, rotated.ID) || n.SigningKey().ID != old {
			t.Fatalf("right after rotating: published=%v signing=%s, want published and %s signing", published(t, n, rotated.ID), n.SigningKey().ID, old)
		}
	}

	// The last token of the old key, signed just before the new one takes over.
	c.set(t0.Add(7*time.Minute - time.Nanosecond))
	lastOld := sign(t, other, "alice")
	if other.SigningKey().ID != old {
		t.Fatal("the new key signed before publish_ahead passed")
	}
	// Both nodes switch at the same instant, without reloading.
	c.set(t0.Add(7 * time.Minute))
	for _, n := range []*Manager{m, other} {
		if n.SigningKey().ID != rotated.ID {
			t.Fatalf("at t0+7m signing kid = %s, want %s", n.SigningKey().ID, rotated.ID)
		}
	}
	if !m.SigningKeyCreated().Equal(rotated.CreatedAt) {
		t.Errorf("signing key created %v, want the new key's %v", m.SigningKeyCreated(), rotated.CreatedAt)
	}
	if got := stateOf(m, old); got != StateRetiring {
		t.Errorf("old key state = %s, want %s", got, StateRetiring)
	}

	// The old key verifies until its last token (15m) plus margin (2m) is over.
	c.set(t0.Add(24*time.Minute - time.Nanosecond))
	if err := verifyWithJWKS(t, other.JWKS(), lastOld); err != nil {
		t.Errorf("old key's last token no longer verifies before its retire time: %v", err)
	}
	c.set(t0.Add(24 * time.Minute))
	for _, n := range []*Manager{m, other} {
		if published(t, n, old) {
			t.Error("old key still published after its retire time")
		}
		if _, _, ok := n.VerificationKey(old); ok {
			t.Error("old key still verifies after its retire time")
		}
		if got := stateOf(n, old); got != StateRetired {
			t.Errorf("old key state = %s, want %s", got, StateRetired)
		}
	}
	// Retired keys are not unsealed again by a fresh node.
	fresh := clockedManager(t, store, c, lifecycle)
	if _, ok := fresh.snap.Load().byID[old]; ok || len(fresh.Keys()) != 2 {
		t.Errorf("fresh node: retired key loaded, or missing from the listing (%d keys)", len(fresh.Keys()))
	}
}

func TestEmergencyRotationSignsAtOnceAndSupersedesPendingKey(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	t0 := c.now()
	m := clockedManager(t, &memStore{}, c, lifecycle)
	first := m.SigningKey().ID
	pending, err := m.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	now, err := m.Rotate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if m.SigningKey().ID != now.ID || now.State != StateSigning {
		t.Fatalf("emergency key does not sign at once: %+v", now)
	}
	// The key that was pending must never take over from the emergency key.
	c.set(t0.Add(10 * time.Minute))
	if got := m.SigningKey().ID; got != now.ID {
		t.Errorf("at t0+10m signing kid = %s, want the emergency key %s (pending was %s)", got, now.ID, pending.ID)
	}
	for _, kid := range []string{first, pending.ID} {
		if got := m.info(kid); got.State != StateRetiring || !got.RetiresAt.Equal(t0.Add(17*time.Minute)) {
			t.Errorf("superseded key %s = %+v, want retiring at t0+17m", kid, got)
		}
	}
}

func TestRetireRules(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	t0 := c.now()
	store := &memStore{}
	es := clockedManager(t, store, c, lifecycle)
	esKID := es.SigningKey().ID
	// After an algorithm change the ES256 key signs no more but stays
	// published: it is the key an operator retires by hand.
	rs, err := NewManager(store, testSecret(1), RS256, lifecycle)
	if err != nil {
		t.Fatal(err)
	}
	rs.SetClock(c.now)
	if err := rs.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rsKID := rs.SigningKey().ID
	pending, err := rs.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := rs.Retire(ctx, rsKID, false); !errors.Is(err, ErrRetireSigning) {
		t.Errorf("retire signing key: err = %v, want ErrRetireSigning", err)
	}
	if _, err := rs.Retire(ctx, pending.ID, false); !errors.Is(err, ErrRetirePending) {
		t.Errorf("retire pending key: err = %v, want ErrRetirePending", err)
	}
	if _, err := rs.Retire(ctx, "nosuchkid", false); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("retire unknown key: err = %v, want ErrKeyNotFound", err)
	}
	if got := stateOf(rs, esKID); got != StatePublished {
		t.Fatalf("ES256 key state = %s, want %s", got, StatePublished)
	}
	c.set(t0.Add(time.Minute))
	info, err := rs.Retire(ctx, esKID, false)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != StateRetiring || !info.RetiresAt.Equal(t0.Add(18*time.Minute)) {
		t.Errorf("retired key = %+v, want retiring at t0+1m+17m", info)
	}
	// Retiring again later keeps the earlier time.
	c.set(t0.Add(5 * time.Minute))
	if again, err := rs.Retire(ctx, esKID, false); err != nil || !again.RetiresAt.Equal(info.RetiresAt) {
		t.Errorf("second retire = %+v, %v; want the first time kept", again, err)
	}
	c.set(info.RetiresAt)
	if published(t, rs, esKID) {
		t.Error("retired key still published after its time")
	}
}

// A compromised key: rotated away with --now, then retired with --now, it
// neither verifies nor is published from that moment.
func TestRetireNowEndsACompromisedKey(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := &memStore{}
	m, err := NewManager(store, testSecret(1), ES256, lifecycle)
	if err != nil {
		t.Fatal(err)
	}
	m.SetClock(c.now)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	old := m.SigningKey().ID
	if _, err := m.Retire(ctx, old, true); !errors.Is(err, ErrRetireSigning) {
		t.Fatalf("retire --now of the signing key: %v, want ErrRetireSigning", err)
	}
	if _, err := m.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := m.VerificationKey(old); !ok {
		t.Fatal("the replaced key stopped verifying before it was retired")
	}
	info, err := m.Retire(ctx, old, true)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != StateRetired {
		t.Fatalf("after retire --now: %+v, want retired", info)
	}
	if _, _, ok := m.VerificationKey(old); ok {
		t.Fatal("a key retired now still verifies")
	}
	if published(t, m, old) {
		t.Fatal("a key retired now is still published")
	}
}

func TestRecordWithoutLifecycleTimesSignsSinceCreation(t *testing.T) {
	// A key record as stored before activates_at and retires_at existed.
	store := &memStore{}
	m := newManager(t, store, testSecret(1), ES256)
	raw, err := json.Marshal(store.keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "activates_at")
	delete(fields, "retires_at")
	raw, _ = json.Marshal(fields)
	var legacy StoredKey
	if err := json.Unmarshal(raw, &legacy); err != nil {
		t.Fatal(err)
	}
	if !legacy.SignsFrom().Equal(legacy.CreatedAt) || !legacy.RetiresAt.IsZero() {
		t.Fatalf("legacy record: signs from %v (created %v), retires %v", legacy.SignsFrom(), legacy.CreatedAt, legacy.RetiresAt)
	}
	old := &memStore{keys: []StoredKey{legacy}}
	c := newClock()
	c.set(legacy.CreatedAt.Add(time.Hour))
	n := clockedManager(t, old, c, lifecycle)
	if n.SigningKey().ID != m.SigningKey().ID || stateOf(n, legacy.ID) != StateSigning || len(old.keys) != 1 {
		t.Errorf("legacy key does not sign: %+v", n.Keys())
	}
	// New records omit the times when they are zero, so they stay readable
	// the same way by an older binary too.
	if raw, _ := json.Marshal(legacy); bytes.Contains(raw, []byte("retires_at")) || bytes.Contains(raw, []byte("activates_at")) {
		t.Errorf("zero lifecycle times written: %s", raw)
	}
}

func TestUnknownKIDReloadsRateLimited(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := &memStore{}
	m1 := clockedManager(t, store, c, lifecycle)
	m2 := clockedManager(t, store, c, lifecycle)
	if _, err := m1.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	// m2 has not reloaded; the unknown kid makes it look.
	if _, err := jwt.Parse(sign(t, m1, "alice"), m2.Keyfunc); err != nil {
		t.Fatalf("m2 rejects m1's new key: %v", err)
	}

	forge := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(m1.SigningKey().Private)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	burst := func() int {
		before := store.listCalls()
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if _, err := jwt.Parse(forge("garbage-"+string(rune('a'+i%26))), m2.Keyfunc); err == nil {
					t.Error("garbage kid accepted")
				}
			})
		}
		wg.Wait()
		return store.listCalls() - before
	}
	if n := burst(); n != 0 {
		t.Errorf("garbage kids within 5s of a reload read the store %d times, want 0", n)
	}
	c.set(c.now().Add(5 * time.Second))
	if n := burst(); n != 1 {
		t.Errorf("50 concurrent garbage kids read the store %d times, want 1", n)
	}
	if _, _, ok := m2.VerificationKey(string(make([]byte, 200))); ok {
		t.Error("an absurd kid verified")
	}
}

func TestRotateIfDue(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	t0 := c.now()
	s := lifecycle
	s.RotateEvery = time.Hour
	m := clockedManager(t, &memStore{}, c, s)
	first := m.SigningKey().ID

	c.set(t0.Add(54*time.Minute - time.Nanosecond))
	if _, rotated, err := m.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("before due: rotated=%v err=%v", rotated, err)
	}
	c.set(t0.Add(54 * time.Minute))
	k, rotated, err := m.RotateIfDue(ctx)
	if err != nil || !rotated {
		t.Fatalf("when due: rotated=%v err=%v", rotated, err)
	}
	if !k.SignsFrom.Equal(t0.Add(time.Hour)) {
		t.Errorf("scheduled key signs from %v, want t0+1h: the old key signed for rotate_every", k.SignsFrom)
	}
	if _, again, _ := m.RotateIfDue(ctx); again {
		t.Error("a second rotation for the same period")
	}
	c.set(t0.Add(time.Hour))
	if m.SigningKey().ID != k.ID || stateOf(m, first) != StateRetiring {
		t.Errorf("at t0+1h: signing %s (want %s), old key %s", m.SigningKey().ID, k.ID, stateOf(m, first))
	}
	off := clockedManager(t, &memStore{}, c, lifecycle)
	c.set(t0.Add(1000 * time.Hour))
	if _, rotated, _ := off.RotateIfDue(ctx); rotated {
		t.Error("rotated with rotate_every 0")
	}
}
