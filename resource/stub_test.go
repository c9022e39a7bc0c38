package resource_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	stubIssuer = "https://auth.example.test"
	photosAPI  = "https://photos.example.test"
)

// stubKey is a test signing key.
type stubKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	use    string
}

func newKey(t *testing.T, kid, alg string) *stubKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || priv == nil {
		t.Fatalf("key %s: %v", alg, err)
	}
	return &stubKey{kid: kid, method: jwt.GetSigningMethod(alg), priv: priv, use: "sig"}
}

func (k *stubKey) jwk() map[string]any {
	b := base64.RawURLEncoding.EncodeToString
	j := map[string]any{"kid": k.kid, "alg": k.method.Alg(), "use": k.use}
	switch p := k.priv.Public().(type) {
	case *ecdsa.PublicKey:
		raw, _ := p.Bytes()
		j["kty"], j["crv"], j["x"], j["y"] = "EC", "P-256", b(raw[1:33]), b(raw[33:])
	case *rsa.PublicKey:
		j["kty"], j["n"], j["e"] = "RSA", b(p.N.Bytes()), b(big.NewInt(int64(p.E)).Bytes())
	case ed25519.PublicKey:
		j["kty"], j["crv"], j["x"] = "OKP", "Ed25519", b(p)
	}
	return j
}

// stubAS serves a JWK Set it can change, counting fetches.
type stubAS struct {
	srv          *httptest.Server
	hits         atomic.Int32
	mu           sync.Mutex
	keys         []*stubKey
	cacheControl string
	status       int
	delay        time.Duration
}

func newStubAS(t *testing.T, keys ...*stubKey) *stubAS {
	s := &stubAS{keys: keys, status: 200}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		set := []map[string]any{}
		for _, k := range s.keys {
			set = append(set, k.jwk())
		}
		cc, status, delay := s.cacheControl, s.status, s.delay
		s.mu.Unlock()
		time.Sleep(delay)
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stubAS) set(f func(s *stubAS)) { s.mu.Lock(); f(s); s.mu.Unlock() }

// claims are valid access token claims for photosAPI at now.
func claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": stubIssuer, "sub": "user-1", "aud": photosAPI, "client_id": "client-1",
		"scope": "photos:read", "jti": "jti-1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// mint signs c with k under typ at+jwt, with extra header fields.
func mint(t *testing.T, k *stubKey, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, c)
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", k.kid
	maps.Copy(tok.Header, header)
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
