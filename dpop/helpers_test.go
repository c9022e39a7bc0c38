package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testNow is the fixed clock of every test, far from the real time so a
// test that forgets to use it fails.
var testNow = time.Unix(1_800_000_000, 0)

const testURL = "https://as.example.com/token"

func fixedClock() time.Time { return testNow }

func newECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEdKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSA keys are slow to make; tests share these.
var rsaKeys sync.Map // bits -> *rsa.PrivateKey

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	if k, ok := rsaKeys.Load(bits); ok {
		return k.(*rsa.PrivateKey)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys.Store(bits, k)
	return k
}

// proofSpec makes a proof that may break any rule. By default it is the
// valid proof NewProof would make for POST testURL at testNow.
type proofSpec struct {
	key    crypto.Signer  // whose public key is the jwk
	alg    string         // default ES256
	header map[string]any // overrides of the JOSE header; nil deletes
	claims map[string]any // overrides of the claims; nil deletes
	signer any            // signs instead of key (HS256, none)
}

func (s proofSpec) make(t testing.TB) string {
	t.Helper()
	if s.alg == "" {
		s.alg = "ES256"
	}
	jwk, err := canonicalJWK(s.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	var jwkMap map[string]any
	if err := json.Unmarshal(jwk, &jwkMap); err != nil {
		t.Fatal(err)
	}
	header := map[string]any{"typ": proofType, "alg": s.alg, "jwk": jwkMap}
	override(header, s.header)
	claims := jwt.MapClaims{
		"jti": randomJTI(t),
		"htm": "POST",
		"htu": testURL,
		"iat": testNow.Unix(),
	}
	override(claims, s.claims)
	method := jwt.GetSigningMethod(s.alg)
	if method == nil {
		method = jwt.SigningMethodES256 // an unknown alg in the header only
	}
	token := jwt.NewWithClaims(method, claims)
	token.Header = header
	var signer any = s.key
	if s.signer != nil {
		signer = s.signer
	}
	proof, err := token.SignedString(signer)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

func override(m, with map[string]any) {
	for k, v := range with {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

func randomJTI(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b64.encode(b)
}

// wantRefused fails unless err is code with a description containing why.
func wantRefused(t testing.TB, err, code error, why string) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("error %v, want %v", err, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is no *Error", err)
	}
	if !strings.Contains(e.Description, why) {
		t.Fatalf("description %q, want it to say %q", e.Description, why)
	}
}
