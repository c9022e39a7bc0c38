package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// memStore is an in-memory Store with the contract's semantics.
type memStore struct {
	mu     sync.Mutex
	keys   []StoredKey
	claims map[string]bool
	lists  int
}

func (s *memStore) CreateFirstKey(_ context.Context, k StoredKey) (StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.keys {
		if e.Alg == k.Alg {
			return e, nil
		}
	}
	s.keys = append(s.keys, k)
	return k, nil
}

func (s *memStore) AddKey(_ context.Context, k StoredKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.keys {
		if e.ID == k.ID {
			return errors.New("duplicate kid")
		}
	}
	s.keys = append(s.keys, k)
	return nil
}

func (s *memStore) ListKeys(context.Context) ([]StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	return append([]StoredKey(nil), s.keys...), nil
}

func (s *memStore) RetireKey(_ context.Context, kid string, at time.Time) (StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.keys {
		if e.ID == kid {
			if e.RetiresAt.IsZero() || at.Before(e.RetiresAt) {
				s.keys[i].RetiresAt = at
			}
			return s.keys[i], nil
		}
	}
	return StoredKey{}, ErrKeyNotFound
}

func (s *memStore) ClaimKeyRotation(_ context.Context, slot string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims == nil {
		s.claims = map[string]bool{}
	}
	if s.claims[slot] {
		return false, nil
	}
	s.claims[slot] = true
	return true, nil
}

// listCalls is how many times the key set was read.
func (s *memStore) listCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

var algs = []string{ES256, RS256, EdDSA}

func testSecret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newManager(t *testing.T, store Store, secret []byte, alg string) *Manager {
	t.Helper()
	m, err := NewManager(store, secret, alg, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func sign(t *testing.T, m *Manager, sub string) string {
	t.Helper()
	sk := m.SigningKey()
	tok := jwt.NewWithClaims(sk.Method, jwt.MapClaims{"sub": sub})
	tok.Header["kid"] = sk.ID
	s, err := tok.SignedString(sk.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publicFromJWKS decodes the published set the way a relying party would.
func publicFromJWKS(t *testing.T, doc []byte) map[string]map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	out := map[string]map[string]any{}
	for _, k := range set.Keys {
		out[k["kid"].(string)] = k
	}
	return out
}

func b64(t *testing.T, s any) []byte {
	t.Helper()
	str, _ := s.(string)
	b, err := base64.RawURLEncoding.DecodeString(str)
	if err != nil || str == "" {
		t.Fatalf("bad base64url %q: %v", str, err)
	}
	return b
}

func jwkPublic(t *testing.T, k map[string]any) crypto.PublicKey {
	t.Helper()
	if k["use"] != "sig" {
		t.Errorf("use = %v, want sig", k["use"])
	}
	switch k["kty"] {
	case "EC":
		if k["crv"] != "P-256" || k["alg"] != ES256 {
			t.Fatalf("EC key crv/alg = %v/%v", k["crv"], k["alg"])
		}
		x, y := b64(t, k["x"]), b64(t, k["y"])
		if len(x) != 32 || len(y) != 32 {
			t.Fatalf("EC coordinates must be 32 bytes, got %d and %d", len(x), len(y))
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case "RSA":
		if k["alg"] != RS256 {
			t.Fatalf("RSA alg = %v", k["alg"])
		}
		n := new(big.Int).SetBytes(b64(t, k["n"]))
		e := new(big.Int).SetBytes(b64(t, k["e"]))
		if n.BitLen() != 2048 {
			t.Errorf("RSA modulus is %d bits, want 2048", n.BitLen())
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "OKP":
		if k["crv"] != "Ed25519" || k["alg"] != EdDSA {
			t.Fatalf("OKP key crv/alg = %v/%v", k["crv"], k["alg"])
		}
		return ed25519.PublicKey(b64(t, k["x"]))
	}
	t.Fatalf("unexpected kty %v", k["kty"])
	return nil
}

// verifyWithJWKS checks token against the JWKS document only.
func verifyWithJWKS(t *testing.T, doc []byte, token string) error {
	t.Helper()
	set := publicFromJWKS(t, doc)
	_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		k, ok := set[tok.Header["kid"].(string)]
		if !ok {
			return nil, fmt.Errorf("kid %v not published", tok.Header["kid"])
		}
		return jwkPublic(t, k), nil
	}, jwt.WithValidMethods([]string{ES256, RS256, EdDSA}))
	return err
}

func TestEachAlgSignsAndVerifiesWithJWKS(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			m := newManager(t, &memStore{}, testSecret(1), alg)
			sk := m.SigningKey()
			if sk.ID == "" || sk.Method.Alg() != alg {
				t.Fatalf("signing key = %+v", sk)
			}
			token := sign(t, m, "alice")
			if err := verifyWithJWKS(t, m.JWKS(), token); err != nil {
				t.Fatalf("token does not verify with the JWKS: %v", err)
			}
			// The manager's own verification path agrees.
			parsed, err := jwt.Parse(token, m.Keyfunc, jwt.WithValidMethods([]string{alg}))
			if err != nil || !parsed.Valid {
				t.Fatalf("Keyfunc: %v", err)
			}
			method, pub, ok := m.VerificationKey(sk.ID)
			if !ok || method.Alg() != alg {
				t.Fatalf("VerificationKey(%s) = %v, %v", sk.ID, method, ok)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(sk.Private.Public()) {
				t.Error("VerificationKey is not the signing key's public half")
			}
			// A different key's signature must not verify.
			other := newManager(t, &memStore{}, testSecret(1), alg)
			if err := verifyWithJWKS(t, m.JWKS(), sign(t, other, "mallory")); err == nil {
				t.Error("a token from another key set verified")
			}
		})
	}
}

func TestKIDIsURLSafe(t *testing.T) {
	m := newManager(t, &memStore{}, testSecret(1), ES256)
	kid := m.SigningKey().ID
	if len(kid) < 22 || strings.ContainsAny(kid, "+/=") {
		t.Errorf("kid %q is not a long url-safe random string", kid)
	}
}

func TestManagersOnOneStoreAgree(t *testing.T) {
	store := &memStore{}
	const n = 8
	ms := make([]*Manager, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		m, err := NewManager(store, testSecret(1), ES256, Settings{})
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
		wg.Go(func() { errs[i] = m.Init(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("manager %d: %v", i, err)
		}
	}
	kid := ms[0].SigningKey().ID
	for i, m := range ms {
		if got := m.SigningKey().ID; got != kid {
			t.Errorf("manager %d signs with %s, manager 0 with %s", i, got, kid)
		}
	}
	if len(store.keys) != 1 {
		t.Errorf("store holds %d keys, want 1", len(store.keys))
	}
	// A token from one node verifies on another.
	if _, err := jwt.Parse(sign(t, ms[0], "bob"), ms[n-1].Keyfunc); err != nil {
		t.Errorf("cross-node verification: %v", err)
	}
}

func TestRotationKeepsOldTokensVerifiable(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	m1 := newManager(t, store, testSecret(1), ES256)
	m2 := newManager(t, store, testSecret(1), ES256)
	oldKID := m1.SigningKey().ID
	oldToken := sign(t, m1, "alice")
	oldJWKS := m1.JWKS()

	rotated, err := m1.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	newKID := rotated.ID
	if newKID == oldKID {
		t.Fatal("rotation kept the same kid")
	}
	if got := m1.SigningKey().ID; got != newKID {
		t.Errorf("after Rotate signing kid = %s, want %s", got, newKID)
	}
	if unsafe.SliceData(m1.JWKS()) == unsafe.SliceData(oldJWKS) {
		t.Error("JWKS was not re-rendered after rotation")
	}
	set := publicFromJWKS(t, m1.JWKS())
	if _, ok := set[oldKID]; !ok {
		t.Error("old key no longer published")
	}
	if _, ok := set[newKID]; !ok {
		t.Error("new key not published")
	}
	if err := verifyWithJWKS(t, m1.JWKS(), oldToken); err != nil {
		t.Errorf("old token no longer verifies: %v", err)
	}
	if err := verifyWithJWKS(t, m1.JWKS(), sign(t, m1, "alice")); err != nil {
		t.Errorf("new token does not verify: %v", err)
	}

	// The other node keeps signing with the old key until it reloads.
	if got := m2.SigningKey().ID; got != oldKID {
		t.Errorf("m2 before Reload signs with %s, want %s", got, oldKID)
	}
	if err := m2.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m2.SigningKey().ID; got != newKID {
		t.Errorf("m2 after Reload signs with %s, want %s", got, newKID)
	}
	if !bytes.Equal(m1.JWKS(), m2.JWKS()) {
		t.Error("nodes publish different JWKS for the same set")
	}
	if _, err := jwt.Parse(sign(t, m1, "x"), m2.Keyfunc); err != nil {
		t.Errorf("m2 cannot verify m1's new token: %v", err)
	}
}

func TestReloadWithoutChangeKeepsRenderedJWKS(t *testing.T) {
	store := &memStore{}
	m := newManager(t, store, testSecret(1), EdDSA)
	before := m.JWKS()
	signer := m.SigningKey().Private
	if err := m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(m.JWKS()) != unsafe.SliceData(before) {
		t.Error("JWKS re-rendered although the set did not change")
	}
	// Keys are parsed once: the same private key value survives a reload.
	if !bytes.Equal(m.SigningKey().Private.(ed25519.PrivateKey), signer.(ed25519.PrivateKey)) {
		t.Error("signing key changed on reload")
	}
}

func TestReloadParsesKeysOnce(t *testing.T) {
	store := &memStore{}
	m := newManager(t, store, testSecret(1), ES256)
	first := m.SigningKey().Private
	if _, err := m.Rotate(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	s := m.snap.Load()
	if s.parsed[0].private != first {
		t.Error("an already loaded key was parsed again")
	}
}

func TestAlgorithmChangeAddsKeyAndKeepsOld(t *testing.T) {
	store := &memStore{}
	es := newManager(t, store, testSecret(1), ES256)
	esToken := sign(t, es, "alice")
	rs := newManager(t, store, testSecret(1), RS256)
	if rs.SigningKey().Method.Alg() != RS256 {
		t.Fatalf("signing alg = %s, want RS256", rs.SigningKey().Method.Alg())
	}
	if len(store.keys) != 2 {
		t.Fatalf("store holds %d keys, want 2", len(store.keys))
	}
	if err := verifyWithJWKS(t, rs.JWKS(), esToken); err != nil {
		t.Errorf("ES256 token no longer verifies after switching to RS256: %v", err)
	}
	infos := rs.Keys()
	if len(infos) != 2 || infos[0].Signing || !infos[1].Signing || infos[1].Alg != RS256 {
		t.Errorf("Keys() = %+v", infos)
	}
}

func TestKeyfuncRejectsAlgMismatchAndUnknownKID(t *testing.T) {
	m := newManager(t, &memStore{}, testSecret(1), ES256)
	kid := m.SigningKey().ID
	// An HS256 token naming the EC kid: the classic algorithm-confusion attempt.
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x"})
	tok.Header["kid"] = kid
	hs, err := tok.SignedString([]byte("whatever"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(hs, m.Keyfunc); err == nil {
		t.Error("HS256 token accepted under an ES256 kid")
	}
	tok = jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{})
	tok.Header["kid"] = "nope"
	es, err := tok.SignedString(m.SigningKey().Private)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(es, m.Keyfunc); err == nil {
		t.Error("token with unknown kid accepted")
	}
}

func TestWrongSecretFailsInitClearly(t *testing.T) {
	store := &memStore{}
	m := newManager(t, store, testSecret(1), ES256)
	kid := m.SigningKey().ID
	other, err := NewManager(store, testSecret(2), ES256, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	err = other.Init(context.Background())
	want := "key encryption secret does not open stored key " + kid
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if other.SigningKey().ID != "" {
		t.Error("a manager that failed Init has a signing key")
	}
}

func TestReloadFailureKeepsPreviousSet(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	m := newManager(t, store, testSecret(1), ES256)
	kid := m.SigningKey().ID
	// Another node with a different secret adds a key this node cannot open.
	intruder := &Manager{store: store, alg: ES256, now: time.Now}
	intruder.sealer, _ = newSealer(testSecret(9))
	sk, err := intruder.newStoredKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AddKey(ctx, sk); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(ctx); err == nil || !strings.Contains(err.Error(), sk.ID) {
		t.Fatalf("Reload err = %v, want it to name %s", err, sk.ID)
	}
	if got := m.SigningKey().ID; got != kid {
		t.Errorf("signing kid = %s after failed reload, want %s", got, kid)
	}
}

func TestSealedBytesHidePrivateKey(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			store := &memStore{}
			m := newManager(t, store, testSecret(1), alg)
			sealed := store.keys[0].Sealed
			priv := m.SigningKey().Private
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			var raw []byte
			switch k := priv.(type) {
			case *ecdsa.PrivateKey:
				raw, err = k.Bytes()
				if err != nil {
					t.Fatal(err)
				}
			case *rsa.PrivateKey:
				raw = k.Primes[0].Bytes()
			case ed25519.PrivateKey:
				raw = k.Seed()
			}
			if bytes.Contains(sealed, der) {
				t.Error("sealed bytes contain the PKCS#8 private key")
			}
			if bytes.Contains(sealed, raw) {
				t.Error("sealed bytes contain the raw private scalar")
			}
			// The public half is kept in the clear and matches.
			pub, err := x509.ParsePKIXPublicKey(store.keys[0].Public)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(priv.Public()) {
				t.Error("stored public key does not match")
			}
		})
	}
}

func TestSealBindsKIDAndDetectsTampering(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		mutate func(k []StoredKey)
		want   string
	}{
		{"flipped byte", func(k []StoredKey) { k[0].Sealed[len(k[0].Sealed)-1] ^= 1 }, "does not open stored key"},
		{"truncated", func(k []StoredKey) { k[0].Sealed = k[0].Sealed[:5] }, "does not open stored key"},
		{"sealed blob moved to another kid", func(k []StoredKey) { k[0].Sealed, k[1].Sealed = k[1].Sealed, k[0].Sealed }, "does not open stored key"},
		{"public half replaced", func(k []StoredKey) { k[0].Public = k[1].Public }, "does not match"},
		{"alg relabelled", func(k []StoredKey) { k[0].Alg = RS256 }, "does not open stored key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := &memStore{}
			m := newManager(t, store, testSecret(1), ES256)
			if _, err := m.Rotate(ctx, false); err != nil {
				t.Fatal(err)
			}
			c.mutate(store.keys)
			fresh, err := NewManager(store, testSecret(1), ES256, Settings{})
			if err != nil {
				t.Fatal(err)
			}
			if err := fresh.Init(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestNewManagerRejectsBadInput(t *testing.T) {
	if _, err := NewManager(&memStore{}, testSecret(1), "HS256", Settings{}); err == nil {
		t.Error("HS256 accepted")
	}
	if _, err := NewManager(&memStore{}, []byte("short"), ES256, Settings{}); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := NewManager(nil, testSecret(1), ES256, Settings{}); err == nil {
		t.Error("nil store accepted")
	}
}

func TestBeforeInit(t *testing.T) {
	m, err := NewManager(&memStore{}, testSecret(1), ES256, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if m.SigningKey().ID != "" {
		t.Error("signing key before Init")
	}
	if string(m.JWKS()) != `{"keys":[]}` {
		t.Errorf("JWKS before Init = %s", m.JWKS())
	}
	if err := m.Reload(context.Background()); err == nil {
		t.Error("Reload on an empty store succeeded without a signing key")
	}
}
