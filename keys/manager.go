// Package keys manages the signing keys of access tokens. Keys live in the
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

// KeyInfo describes one key of the set, for listing.
type KeyInfo struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	Signing   bool      `json:"signing"`
}

// Manager keeps the parsed key set. Its methods are safe for concurrent use;
// readers never block, since they load one immutable snapshot.
type Manager struct {
	store  Store
	sealer *sealer
	alg    string
	now    func() time.Time

	mu   sync.Mutex // serialises Init, Reload and Rotate
	snap atomic.Pointer[snapshot]
}

// snapshot is never modified once published.
type snapshot struct {
	keys    []*key // store order, oldest first
	byID    map[string]*key
	signing SigningKey
	jwks    []byte
}

type key struct {
	id        string
	alg       string
	createdAt time.Time
	method    jwt.SigningMethod
	private   crypto.Signer
	public    crypto.PublicKey
	jwk       jwk
}

// NewManager returns a Manager that signs with alg ("ES256", "RS256" or
// "EdDSA") and opens stored keys with secret. Call Init before use.
func NewManager(store Store, secret []byte, alg string) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: nil store")
	}
	if _, err := methodFor(alg); err != nil {
		return nil, err
	}
	s, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	return &Manager{store: store, sealer: s, alg: alg, now: time.Now}, nil
}

// Init makes sure a key for the configured algorithm exists (the first node
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
		sk, err := m.newStoredKey()
		if err != nil {
			return err
		}
		if _, err := m.store.CreateFirstKey(ctx, sk); err != nil {
			return fmt.Errorf("keys: store first %s key: %w", m.alg, err)
		}
		if s, err = m.load(ctx); err != nil {
			return err
		}
		if s.signing.ID == "" {
			return fmt.Errorf("keys: store lists no %s key after creating one", m.alg)
		}
	}
	m.snap.Store(s)
	return nil
}

// Reload re-reads the key set so rotations made by other nodes take effect.
// On error the previous set stays in use.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.load(ctx)
	if err != nil {
		return err
	}
	if s.signing.ID == "" {
		return fmt.Errorf("keys: store has no %s key; keeping the loaded set", m.alg)
	}
	m.snap.Store(s)
	return nil
}

// Rotate adds a new key for the configured algorithm, which becomes the
// signing key; older keys stay published so tokens they signed still verify.
func (m *Manager) Rotate(ctx context.Context) (kid string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sk, err := m.newStoredKey()
	if err != nil {
		return "", err
	}
	if err := m.store.AddKey(ctx, sk); err != nil {
		return "", fmt.Errorf("keys: store new key: %w", err)
	}
	s, err := m.load(ctx)
	if err != nil {
		return "", err
	}
	m.snap.Store(s)
	return sk.ID, nil
}

// SigningKey returns the key to sign new tokens with: the newest key of the
// configured algorithm. It is the zero value before Init succeeds.
func (m *Manager) SigningKey() SigningKey {
	s := m.snap.Load()
	if s == nil {
		return SigningKey{}
	}
	return s.signing
}

// VerificationKey returns the method and public key for kid.
func (m *Manager) VerificationKey(kid string) (jwt.SigningMethod, crypto.PublicKey, bool) {
	s := m.snap.Load()
	if s == nil {
		return nil, nil, false
	}
	k, ok := s.byID[kid]
	if !ok {
		return nil, nil, false
	}
	return k.method, k.public, true
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

// JWKS returns the public key set as an RFC 7517 JSON document. The slice is
// shared and rendered only when the set changes: callers must not modify it.
func (m *Manager) JWKS() []byte {
	s := m.snap.Load()
	if s == nil {
		return []byte(`{"keys":[]}`)
	}
	return s.jwks
}

// Keys lists the key set, oldest first.
func (m *Manager) Keys() []KeyInfo {
	s := m.snap.Load()
	if s == nil {
		return nil
	}
	out := make([]KeyInfo, len(s.keys))
	for i, k := range s.keys {
		out[i] = KeyInfo{ID: k.id, Alg: k.alg, CreatedAt: k.createdAt, Signing: k.id == s.signing.ID}
	}
	return out
}

// load reads the stored set and builds a snapshot, reusing keys already
// parsed so each key is unsealed once per process.
func (m *Manager) load(ctx context.Context) (*snapshot, error) {
	stored, err := m.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	old := m.snap.Load()
	changed := old == nil || len(old.keys) != len(stored)
	s := &snapshot{keys: make([]*key, 0, len(stored)), byID: make(map[string]*key, len(stored))}
	for i, sk := range stored {
		if _, dup := s.byID[sk.ID]; dup {
			return nil, fmt.Errorf("keys: store lists kid %s twice", sk.ID)
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
		if !changed && old.keys[i] != k {
			changed = true
		}
		s.keys = append(s.keys, k)
		s.byID[k.id] = k
		if k.alg == m.alg {
			s.signing = SigningKey{ID: k.id, Method: k.method, Private: k.private}
		}
	}
	if !changed && old.signing.ID == s.signing.ID {
		return old, nil
	}
	if s.jwks, err = renderJWKS(s.keys); err != nil {
		return nil, err
	}
	return s, nil
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
		method:    method,
		private:   priv,
		public:    pub,
		jwk:       j,
	}, nil
}

// newStoredKey generates a key for the configured algorithm and seals it.
func (m *Manager) newStoredKey() (StoredKey, error) {
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
	return StoredKey{ID: kid, Alg: m.alg, Sealed: sealed, Public: pub, CreatedAt: m.now().UTC()}, nil
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
