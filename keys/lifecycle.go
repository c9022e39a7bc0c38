package keys

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Key states, as Keys and the admin API name them.
const (
	StatePending   = "pending"   // published; signs from signs_from
	StateSigning   = "signing"   // signs new tokens
	StatePublished = "published" // verifies what it signed; no retire time set
	StateRetiring  = "retiring"  // verifies until retires_at, then leaves JWKS
	StateRetired   = "retired"   // past retires_at: neither published nor verified
)

// Errors of Retire that are the caller's mistake.
var (
	ErrRetireSigning = errors.New("keys: the key signs new tokens; rotate first, then retire it once another key signs")
	ErrRetirePending = errors.New("keys: the key has not started signing yet; the key signing now retires by itself when it takes over")
)

// KeyInfo describes one key of the set, for listing.
type KeyInfo struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	SignsFrom time.Time `json:"signs_from"`
	RetiresAt time.Time `json:"retires_at,omitzero"`
	Signing   bool      `json:"signing"`
}

// Keys lists the key set as the store last listed it, retired keys too,
// oldest first, with each key's state now.
func (m *Manager) Keys() []KeyInfo {
	s := m.current()
	if s == nil {
		return nil
	}
	now := m.now()
	out := make([]KeyInfo, len(s.records))
	for i, r := range s.records {
		out[i] = KeyInfo{ID: r.ID, Alg: r.Alg, CreatedAt: r.CreatedAt, SignsFrom: r.SignsFrom(), RetiresAt: r.RetiresAt,
			Signing: r.ID == s.signing.ID, State: state(r, s.signing.ID, now)}
	}
	return out
}

// SigningKeyCreated is when the key signing now was created, for the
// signing-key age metric; zero before Init.
func (m *Manager) SigningKeyCreated() time.Time {
	s := m.current()
	if s == nil {
		return time.Time{}
	}
	if k := s.byID[s.signing.ID]; k != nil {
		return k.createdAt
	}
	return time.Time{}
}

func state(r StoredKey, signing string, now time.Time) string {
	switch {
	case retired(r.RetiresAt, now):
		return StateRetired
	case r.ID == signing:
		return StateSigning
	case !r.RetiresAt.IsZero(): // a pending key superseded before it signed too
		return StateRetiring
	case now.Before(r.SignsFrom()):
		return StatePending
	}
	return StatePublished
}

// List reloads the set from the store and lists it (Keys).
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	return m.Keys(), nil
}

// Rotate adds a new key for the configured algorithm. It is published at
// once and signs after Settings.PublishAhead, or at once with immediately
// (a compromised key: caches that have not seen the new key reject its
// tokens until they refetch). The keys it replaces retire by themselves
// once every token they can still sign has expired.
func (m *Manager) Rotate(ctx context.Context, immediately bool) (KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reloadLocked(ctx); err != nil {
		return KeyInfo{}, err
	}
	signsFrom := m.now().Add(m.settings.PublishAhead)
	if immediately {
		signsFrom = m.now()
	}
	return m.rotateLocked(ctx, signsFrom)
}

// rotateLocked adds the key, retires the keys it supersedes and announces
// the change. m.mu is held and the snapshot fresh.
func (m *Manager) rotateLocked(ctx context.Context, signsFrom time.Time) (KeyInfo, error) {
	sk, err := m.newStoredKey(signsFrom)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := m.store.AddKey(ctx, sk); err != nil {
		return KeyInfo{}, fmt.Errorf("keys: store new key: %w", err)
	}
	m.retireSuperseded(ctx, sk)
	if err := m.reloadLocked(ctx); err != nil {
		return KeyInfo{}, err
	}
	m.announce(ctx, sk.ID)
	return m.info(sk.ID), nil
}

// retireSuperseded sets the retire time of every key of the algorithm that
// sk supersedes, so that each stops signing when sk starts.
func (m *Manager) retireSuperseded(ctx context.Context, sk StoredKey) {
	if m.settings.TokenLifetime == 0 {
		return
	}
	retireAt := sk.ActivatesAt.Add(m.settings.TokenLifetime + m.settings.RetireMargin)
	for _, r := range m.snap.Load().records {
		if r.Alg != m.alg || r.ID == sk.ID || (!r.RetiresAt.IsZero() && !r.RetiresAt.After(retireAt)) {
			continue
		}
		if _, err := m.store.RetireKey(ctx, r.ID, retireAt); err != nil {
			// The new key is stored; the old one then stays published
			// (harmless) until the next rotation retires it.
			m.settings.Log.ErrorContext(ctx, "keys: retire superseded key", "kid", r.ID, "err", err)
		}
	}
}

// Retire marks kid retired: it stays published and verifiable until every
// token it signed has expired (TokenLifetime plus RetireMargin from now),
// then leaves JWKS. immediately retires it now instead, for a compromised
// key after `rotate --now`: every token it signed stops verifying at once.
// The key signing now and a key that has not signed yet cannot be
// retired. Retiring a key already retired keeps the earlier time.
func (m *Manager) Retire(ctx context.Context, kid string, immediately bool) (KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reloadLocked(ctx); err != nil {
		return KeyInfo{}, err
	}
	info := m.info(kid)
	switch {
	case info.ID == "":
		return KeyInfo{}, ErrKeyNotFound
	case info.State == StateSigning:
		return KeyInfo{}, ErrRetireSigning
	case info.State == StatePending:
		return KeyInfo{}, ErrRetirePending
	}
	at := m.now()
	if !immediately {
		at = at.Add(m.settings.TokenLifetime + m.settings.RetireMargin)
	}
	if _, err := m.store.RetireKey(ctx, kid, at); err != nil {
		return KeyInfo{}, err
	}
	if err := m.reloadLocked(ctx); err != nil {
		return KeyInfo{}, err
	}
	m.announce(ctx, kid)
	return m.info(kid), nil
}

// rotationClaimTTL is how long a claimed scheduled rotation stays claimed:
// should its winner die before adding the key, another node takes over
// after this.
const rotationClaimTTL = 5 * time.Minute

// RotateIfDue performs the scheduled rotation when it is due: the newest
// key of the algorithm began signing RotateEvery minus PublishAhead ago, so
// that its successor signs RotateEvery after it. Every node calls it; a
// claim in the store lets only one of them add the key. It reports whether
// this call added one.
func (m *Manager) RotateIfDue(ctx context.Context) (KeyInfo, bool, error) {
	if m.settings.RotateEvery <= 0 {
		return KeyInfo{}, false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reloadLocked(ctx); err != nil {
		return KeyInfo{}, false, err
	}
	newest := m.newestKey()
	if newest == nil {
		return KeyInfo{}, false, nil
	}
	due := newest.signsFrom.Add(m.settings.RotateEvery - m.settings.PublishAhead)
	if m.now().Before(due) {
		return KeyInfo{}, false, nil
	}
	// One slot per key to succeed: a node that read the set before the
	// winner added the key asks for the same slot and is refused.
	won, err := m.store.ClaimKeyRotation(ctx, m.alg+":"+newest.id, rotationClaimTTL)
	if err != nil || !won {
		return KeyInfo{}, false, err
	}
	info, err := m.rotateLocked(ctx, m.now().Add(m.settings.PublishAhead))
	return info, err == nil, err
}

// newestKey is the key of the algorithm that begins signing last among
// those that still will or do sign.
func (m *Manager) newestKey() *key {
	s := m.snap.Load()
	now := m.now()
	var newest *key
	for _, k := range s.parsed {
		if k.alg != m.alg || retired(k.retiresAt, now) {
			continue
		}
		if until := m.signsUntil(k); !until.IsZero() && !now.Before(until) {
			continue
		}
		if newest == nil || !k.signsFrom.Before(newest.signsFrom) {
			newest = k
		}
	}
	return newest
}

// info is kid as Keys lists it; the zero value when the set has no kid.
func (m *Manager) info(kid string) KeyInfo {
	for _, k := range m.Keys() {
		if k.ID == kid {
			return k
		}
	}
	return KeyInfo{}
}

// announce tells the other nodes; a failure leaves them on the periodic
// reload, since the change itself is stored.
func (m *Manager) announce(ctx context.Context, kid string) {
	if m.settings.Changes == nil {
		return
	}
	if err := m.settings.Changes.PublishChange(ctx, kid); err != nil {
		m.settings.Log.ErrorContext(ctx, "keys: change not announced; other nodes pick it up at their next periodic reload", "kid", kid, "err", err)
	}
}
