// Package keys manages the signing keys of access tokens and their
// lifecycle (publish ahead, sign, retire; see Settings). Keys live in the
// store, private halves sealed under the key encryption secret, so every
// node signs and verifies with the same set; each node parses them once and
// serves them from an immutable in-memory snapshot.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Supported algorithms (JWS "alg" values).
const (
	ES256 = "ES256" // ECDSA P-256
	RS256 = "RS256" // RSA 2048
	EdDSA = "EdDSA" // Ed25519
)

const rsaBits = 2048

// SigningKey is the key new tokens are signed with; put ID in the JWS kid
// header.
type SigningKey struct {
	ID      string
	Method  jwt.SigningMethod
	Private crypto.Signer
}

// Settings is the lifecycle policy of the key set. The zero value signs
// with a new key at once, keeps superseded keys published until they are
// retired by hand, and never rotates by itself: right for tests.
type Settings struct {
	// PublishAhead is how long a rotated key is published before it signs,
	// so that every cached JWKS (max-age) and every node (reload interval)
	// holds it before the first token it signs is shown to anyone.
	PublishAhead time.Duration
	// TokenLifetime is the longest lifetime of a token signed with a key
	// (the access-token TTL: access tokens are the only JWTs signed). With
	// 0, a rotation leaves the keys it supersedes unretired.
	TokenLifetime time.Duration
	// RetireMargin is added to TokenLifetime for clock skew between the
	// server and resource servers and for a node that signed with an old
	// key a little longer because it had not yet heard of its successor.
	RetireMargin time.Duration
	// RotateEvery is how long each key signs before RotateIfDue replaces
	// it; 0 turns scheduled rotation off.
	RotateEvery time.Duration
	// Changes announces every change of the set to the other nodes, which
	// reload on it; nil when this is the only node.
	Changes Announcer
	// Log receives failures to announce a change; nil discards them.
	Log *slog.Logger
}

// Announcer tells the other nodes that a key changed (cache.Changes).
type Announcer interface {
	PublishChange(ctx context.Context, id string) error
}

// Manager keeps the parsed key set. Its methods are safe for concurrent use;
// readers never block, since they load one immutable snapshot.
type Manager struct {
	store    Store
	sealer   *sealer
	alg      string
	settings Settings
	now      func() time.Time

	mu   sync.Mutex // serialises Init, Reload, Rotate, Retire and RotateIfDue
	snap atomic.Pointer[snapshot]

	missMu   sync.Mutex // one reload at a time for unknown kids
	lastMiss time.Time
}

// snapshot is never modified once published. It is built for one moment
// (at) and stays right until the next activation or retirement (until),
// after which current derives the next one from the same parsed keys.
type snapshot struct {
	records []StoredKey // as the store listed them, retired ones too
	parsed  []*key      // keys not yet retired when loaded, store order
	byID    map[string]*key
	signing SigningKey
	jwks    []byte
	at      time.Time
	until   time.Time // zero: nothing changes with time
}

type key struct {
	id        string
	alg       string
	createdAt time.Time
	signsFrom time.Time
	retiresAt time.Time // zero: not retired
	method    jwt.SigningMethod
	private   crypto.Signer
	public    crypto.PublicKey
	jwk       jwk
}

// NewManager returns a Manager that signs with alg ("ES256", "RS256" or
// "EdDSA"), opens stored keys with secret and follows the lifecycle policy
// s. Call Init before use.
func NewManager(store Store, secret []byte, alg string, s Settings) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: nil store")
	}
	if _, err := methodFor(alg); err != nil {
		return nil, err
	}
	if s.PublishAhead < 0 || s.TokenLifetime < 0 || s.RetireMargin < 0 || s.RotateEvery < 0 {
		return nil, errors.New("keys: negative duration in settings")
	}
	sl, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: store, sealer: sl, alg: alg, settings: s, now: time.Now}, nil
}

// Init makes sure a key for the configured algorithm signs (the first node
// to start creates it; the others adopt it) and loads the whole set. A
// secret that does not open a stored key fails here, at start-up.
func (m *Manager) Init(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.load(ctx)
	if err != nil {
		return err
	}
	if s.signing.ID == "" {
		if err := m.addFirstKey(ctx, s); err != nil {
			return err
		}
		if s, err = m.load(ctx); err != nil {
			return err
		}
		if s.signing.ID == "" {
			return fmt.Errorf("keys: store lists no %s key that signs after creating one", m.alg)
		}
	}
	m.snap.Store(s)
	return nil
}

// addFirstKey stores a key that signs at once: nobody can have tokens or a
// cached JWKS from a set without a signing key. The very first key of an
// algorithm goes through CreateFirstKey, so nodes starting together agree.
func (m *Manager) addFirstKey(ctx context.Context, s *snapshot) error {
	sk, err := m.newStoredKey(m.now())
	if err != nil {
		return err
	}
	for _, r := range s.records {
		if r.Alg == m.alg { // only retired keys of this algorithm are left
			if err := m.store.AddKey(ctx, sk); err != nil {
				return fmt.Errorf("keys: store new %s key: %w", m.alg, err)
			}
			return nil
		}
	}
	if _, err := m.store.CreateFirstKey(ctx, sk); err != nil {
		return fmt.Errorf("keys: store first %s key: %w", m.alg, err)
	}
	return nil
}

// Reload re-reads the key set so changes made by other nodes take effect.
// On error the previous set stays in use.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked(ctx)
}

func (m *Manager) reloadLocked(ctx context.Context) error {
	s, err := m.load(ctx)
	if err != nil {
		return err
	}
	if s.signing.ID == "" {
		return fmt.Errorf("keys: store has no %s key that signs; keeping the loaded set", m.alg)
	}
	m.snap.Store(s)
	return nil
}

// current is the snapshot for now: when an activation or retirement time
// has passed since it was built, the next one is derived from the same
// keys, so time-driven changes need no reload.
func (m *Manager) current() *snapshot {
	s := m.snap.Load()
	if s == nil || s.until.IsZero() {
		return s
	}
	now := m.now()
	if now.Before(s.until) {
		return s
	}
	next, err := m.derive(s.records, s.parsed, s, now)
	if err != nil {
		return s // rendering the JWKS of keys that rendered before cannot fail
	}
	m.snap.CompareAndSwap(s, next)
	return next
}

// SigningKey returns the key to sign new tokens with: of the keys of the
// configured algorithm that sign now, the one that began last. It is the
// zero value before Init succeeds.
func (m *Manager) SigningKey() SigningKey {
	s := m.current()
	if s == nil {
		return SigningKey{}
	}
	return s.signing
}

// VerificationKey returns the method and public key for kid. An unknown
// kid reloads the set first (see reloadForMiss), so a key another node
// has just added verifies here at once.
func (m *Manager) VerificationKey(kid string) (jwt.SigningMethod, crypto.PublicKey, bool) {
	if k := m.lookup(kid); k != nil {
		return k.method, k.public, true
	}
	if !m.reloadForMiss(kid) {
		return nil, nil, false
	}
	if k := m.lookup(kid); k != nil {
		return k.method, k.public, true
	}
	return nil, nil, false
}

func (m *Manager) lookup(kid string) *key {
	s := m.current()
	if s == nil {
		return nil
	}
	return s.byID[kid]
}

// Unknown kids reload the set at most once per missReloadEvery on a node,
// so tokens with made-up kids cannot turn into a stream of store reads.
const (
	missReloadEvery   = 5 * time.Second
	missReloadTimeout = 2 * time.Second
	maxKIDLen         = 64 // generated kids are 22 characters
)

// reloadForMiss reloads the set for an unknown kid unless a reload for a
// miss ran within missReloadEvery; concurrent misses wait for one reload
// and share it. It reports whether looking again may help.
func (m *Manager) reloadForMiss(kid string) bool {
	if kid == "" || len(kid) > maxKIDLen {
		return false
	}
	m.missMu.Lock()
	defer m.missMu.Unlock()
	now := m.now()
	if !m.lastMiss.IsZero() && now.Sub(m.lastMiss) < missReloadEvery {
		return true // a reload just ran; what it found is in the snapshot
	}
	m.lastMiss = now
	ctx, cancel := context.WithTimeout(context.Background(), missReloadTimeout)
	defer cancel()
	if err := m.Reload(ctx); err != nil {
		m.settings.Log.Warn("keys: reload for an unknown kid failed", "err", err)
	}
	return true
}

// Keyfunc is a jwt.Keyfunc that finds the key by the token's kid and
// rejects a token whose alg header is not that key's algorithm, so a key can
// never be used with another algorithm than its own.
func (m *Manager) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	method, pub, ok := m.VerificationKey(kid)
	if !ok {
		return nil, fmt.Errorf("keys: unknown kid %q", kid)
	}
	if t.Method == nil || t.Method.Alg() != method.Alg() {
		return nil, fmt.Errorf("keys: kid %q is not a %v key", kid, t.Header["alg"])
	}
	return pub, nil
}

// JWKS returns the public key set as an RFC 7517 JSON document: every key
// not yet retired, those that do not sign yet included. The slice is
// shared and rendered only when the set changes: callers must not modify
// it.
func (m *Manager) JWKS() []byte {
	s := m.current()
	if s == nil {
		return []byte(`{"keys":[]}`)
	}
	return s.jwks
}

// load reads the stored set and builds a snapshot for now, reusing keys
// already parsed so each key is unsealed once per process. Keys already
// retired are not unsealed at all.
func (m *Manager) load(ctx context.Context) (*snapshot, error) {
	stored, err := m.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	now := m.now()
	old := m.snap.Load()
	seen := make(map[string]bool, len(stored))
	parsed := make([]*key, 0, len(stored))
	for _, sk := range stored {
		if seen[sk.ID] {
			return nil, fmt.Errorf("keys: store lists kid %s twice", sk.ID)
		}
		seen[sk.ID] = true
		if retired(sk.RetiresAt, now) {
			continue
		}
		var k *key
		if old != nil {
			if prev, ok := old.byID[sk.ID]; ok && prev.alg == sk.Alg {
				k = prev
			}
		}
		if k == nil {
			if k, err = m.parse(sk); err != nil {
				return nil, err
			}
		}
		if !k.signsFrom.Equal(sk.SignsFrom()) || !k.retiresAt.Equal(sk.RetiresAt) {
			times := *k // the parsed halves are shared; the times are the store's
			times.signsFrom, times.retiresAt = sk.SignsFrom(), sk.RetiresAt
			k = &times
		}
		parsed = append(parsed, k)
	}
	return m.derive(stored, parsed, old, now)
}

func retired(retiresAt, now time.Time) bool {
	return !retiresAt.IsZero() && !now.Before(retiresAt)
}

// signsUntil is when k must stop signing so that every token it signs
// expires, with margin, before k retires.
func (m *Manager) signsUntil(k *key) time.Time {
	if k.retiresAt.IsZero() {
		return time.Time{}
	}
	return k.retiresAt.Add(-m.settings.TokenLifetime - m.settings.RetireMargin)
}

func (m *Manager) signsAt(k *key, now time.Time) bool {
	until := m.signsUntil(k)
	return k.alg == m.alg && !now.Before(k.signsFrom) && (until.IsZero() || now.Before(until))
}

// derive builds the snapshot of parsed at now; old's rendered JWKS is
// reused when the published set is the same.
func (m *Manager) derive(records []StoredKey, parsed []*key, old *snapshot, now time.Time) (*snapshot, error) {
	s := &snapshot{records: records, parsed: parsed, byID: make(map[string]*key, len(parsed)), at: now}
	var signer *key
	published := make([]*key, 0, len(parsed))
	for _, k := range parsed {
		for _, t := range []time.Time{k.signsFrom, m.signsUntil(k), k.retiresAt} {
			if t.After(now) && (s.until.IsZero() || t.Before(s.until)) {
				s.until = t
			}
		}
		if retired(k.retiresAt, now) {
			continue
		}
		published = append(published, k)
		s.byID[k.id] = k
		if m.signsAt(k, now) && (signer == nil || !k.signsFrom.Before(signer.signsFrom)) {
			signer = k
		}
	}
	if signer != nil {
		s.signing = SigningKey{ID: signer.id, Method: signer.method, Private: signer.private}
	}
	if old != nil && samePublished(old, published) {
		s.jwks = old.jwks
		return s, nil
	}
	var err error
	if s.jwks, err = renderJWKS(published); err != nil {
		return nil, err
	}
	return s, nil
}

// samePublished says whether old publishes exactly these keys, in order.
func samePublished(old *snapshot, published []*key) bool {
	if len(old.byID) != len(published) {
		return false
	}
	i := 0
	for _, k := range old.parsed {
		if _, ok := old.byID[k.id]; !ok {
			continue
		}
		if i >= len(published) || published[i].id != k.id || published[i].jwk != k.jwk {
			return false
		}
		i++
	}
	return i == len(published)
}

// parse unseals and checks one stored key.
func (m *Manager) parse(sk StoredKey) (*key, error) {
	method, err := methodFor(sk.Alg)
	if err != nil {
		return nil, fmt.Errorf("keys: stored key %s: %w", sk.ID, err)
	}
	der, err := m.sealer.open(sk.Sealed, sk.ID, sk.Alg)
	if err != nil {
		return nil, fmt.Errorf("keys: key encryption secret does not open stored key %s", sk.ID)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: stored key %s: %w", sk.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || !fitsAlg(priv, sk.Alg) {
		return nil, fmt.Errorf("keys: stored key %s is not a %s key", sk.ID, sk.Alg)
	}
	pub, err := x509.ParsePKIXPublicKey(sk.Public)
	if err != nil {
		return nil, fmt.Errorf("keys: stored key %s public half: %w", sk.ID, err)
	}
	if eq, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("keys: stored key %s: public key does not match private key", sk.ID)
	}
	j, err := toJWK(sk.ID, sk.Alg, pub)
	if err != nil {
		return nil, fmt.Errorf("keys: stored key %s: %w", sk.ID, err)
	}
	return &key{
		id:        sk.ID,
		alg:       sk.Alg,
		createdAt: sk.CreatedAt,
		signsFrom: sk.SignsFrom(),
		retiresAt: sk.RetiresAt,
		method:    method,
		private:   priv,
		public:    pub,
		jwk:       j,
	}, nil
}

// newStoredKey generates a key for the configured algorithm that signs
// from signsFrom, and seals it.
func (m *Manager) newStoredKey(signsFrom time.Time) (StoredKey, error) {
	priv, err := generate(m.alg)
	if err != nil {
		return StoredKey{}, fmt.Errorf("keys: generate %s key: %w", m.alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return StoredKey{}, err
	}
	defer clear(der)
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return StoredKey{}, err
	}
	kid, err := newKID()
	if err != nil {
		return StoredKey{}, err
	}
	sealed, err := m.sealer.seal(der, kid, m.alg)
	if err != nil {
		return StoredKey{}, err
	}
	created := m.now().UTC()
	activates := signsFrom.UTC()
	if activates.Before(created) {
		activates = created
	}
	return StoredKey{ID: kid, Alg: m.alg, Sealed: sealed, Public: pub, CreatedAt: created, ActivatesAt: activates}, nil
}

func methodFor(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case ES256:
		return jwt.SigningMethodES256, nil
	case RS256:
		return jwt.SigningMethodRS256, nil
	case EdDSA:
		return jwt.SigningMethodEdDSA, nil
	}
	return nil, fmt.Errorf("keys: unsupported algorithm %q (want ES256, RS256 or EdDSA)", alg)
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unsupported algorithm %q", alg)
}

func fitsAlg(priv crypto.Signer, alg string) bool {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		return alg == ES256 && k.Curve == elliptic.P256()
	case *rsa.PrivateKey:
		return alg == RS256 && k.N.BitLen() >= rsaBits
	case ed25519.PrivateKey:
		return alg == EdDSA
	}
	return false
}

// newKID returns 128 random bits, base64url: unguessable and URL-safe.
func newKID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SigningKeyFor is SigningKey when alg is the Manager's algorithm; false
// otherwise, or before Init.
func (m *Manager) SigningKeyFor(alg string) (SigningKey, bool) {
	if alg != m.alg {
		return SigningKey{}, false
	}
	k := m.SigningKey()
	return k, k.ID != ""
}
