package dpopcheck_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/dpop"
	"authserver/resource"
	"authserver/resource/dpopcheck"
)

const (
	issuer  = "https://auth.example.test"
	api     = "https://photos.example.test"
	photos  = api + "/photos/1"
	keyID   = "k1"
	realm   = "photos"
	testAlg = "ES256"
)

// stack is an API guarded by a Validator with a dpopcheck.Checker, and
// the issuer's signing key.
type stack struct {
	signer *ecdsa.PrivateKey
	api    http.Handler
}

func newStack(t *testing.T, cfg dpopcheck.Config) *stack {
	t.Helper()
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := signer.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:]), "kid": keyID, "alg": "ES256", "use": "sig",
	}}})
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(jwks) }))
	t.Cleanup(as.Close)
	if cfg.BaseURL == "" {
		cfg.BaseURL = api
	}
	check, err := dpopcheck.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := resource.New(resource.Config{
		Issuer: issuer, Audience: api, JWKSURL: as.URL, DPoP: check, DPoPSigningAlgs: check.Algorithms(), Realm: realm, Now: cfg.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := resource.FromContext(r.Context())
		w.Write([]byte(tok.JKT))
	})
	return &stack{signer: signer, api: v.Middleware()(ok)}
}

// token is an access token bound to jkt.
func (s *stack) token(t *testing.T, jkt string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": issuer, "sub": "user-1", "aud": api, "client_id": "client-1", "scope": "photos:read",
		"jti": "jti-" + jkt, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "cnf": map[string]any{"jkt": jkt},
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", keyID
	out, err := tok.SignedString(s.signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type holder struct {
	priv *ecdsa.PrivateKey
	jkt  string
}

func newHolder(t *testing.T) holder {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.ThumbprintKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return holder{priv: k, jkt: jkt}
}

func (h holder) proof(t *testing.T, method, target, token, nonce string, iat time.Time) string {
	t.Helper()
	p, err := dpop.NewProof(h.priv, testAlg, method, target, token, nonce, iat)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// call sends a request to the API, at the listen address the Host header
// names, with the token under the DPoP scheme and the proofs given.
func (s *stack) call(method, token string, proofs ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://10.0.0.7:8080/photos/1?size=big", nil)
	req.Header.Set("Authorization", "DPoP "+token)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, req)
	return rec
}

func wantRefused(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	var dpopChallenge string
	for _, c := range rec.Header().Values("WWW-Authenticate") {
		if strings.HasPrefix(c, "DPoP ") {
			dpopChallenge = c
		}
	}
	if rec.Code != http.StatusUnauthorized || !strings.Contains(dpopChallenge, `error="`+code+`"`) {
		t.Fatalf("got %d %q %s, want 401 %s on the DPoP challenge", rec.Code, rec.Header().Values("WWW-Authenticate"), rec.Body, code)
	}
}

func TestAcceptsBoundTokenWithProof(t *testing.T) {
	s := newStack(t, dpopcheck.Config{})
	h := newHolder(t)
	tok := s.token(t, h.jkt)
	rec := s.call(http.MethodGet, tok, h.proof(t, http.MethodGet, photos, tok, "", time.Now()))
	if rec.Code != http.StatusOK || rec.Body.String() != h.jkt {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestRefusesReplay(t *testing.T) {
	s := newStack(t, dpopcheck.Config{})
	h := newHolder(t)
	tok := s.token(t, h.jkt)
	p := h.proof(t, http.MethodGet, photos, tok, "", time.Now())
	if rec := s.call(http.MethodGet, tok, p); rec.Code != http.StatusOK {
		t.Fatalf("first use: %d %s", rec.Code, rec.Body)
	}
	wantRefused(t, s.call(http.MethodGet, tok, p), resource.CodeInvalidDPoPProof)
}

// Of 30 requests with one proof at once, exactly one is let through.
func TestRefusesConcurrentReplay(t *testing.T) {
	s := newStack(t, dpopcheck.Config{})
	h := newHolder(t)
	tok := s.token(t, h.jkt)
	p := h.proof(t, http.MethodGet, photos, tok, "", time.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	start := make(chan struct{})
	for range 30 {
		wg.Go(func() {
			<-start
			rec := s.call(http.MethodGet, tok, p)
			mu.Lock()
			codes[rec.Code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if codes[http.StatusOK] != 1 || codes[http.StatusUnauthorized] != 29 {
		t.Fatalf("answers %v, want one 200 and 29 401", codes)
	}
}

func TestRefusesBadProofs(t *testing.T) {
	s := newStack(t, dpopcheck.Config{})
	h, other := newHolder(t), newHolder(t)
	tok := s.token(t, h.jkt)
	now := time.Now()
	for name, c := range map[string]struct {
		proofs []string
		code   string
	}{
		"missing proof":          {nil, resource.CodeInvalidDPoPProof},
		"htu of the Host header": {[]string{h.proof(t, http.MethodGet, "http://10.0.0.7:8080/photos/1", tok, "", now)}, resource.CodeInvalidDPoPProof},
		"htu of another path":    {[]string{h.proof(t, http.MethodGet, api+"/photos/2", tok, "", now)}, resource.CodeInvalidDPoPProof},
		"wrong htm":              {[]string{h.proof(t, http.MethodDelete, photos, tok, "", now)}, resource.CodeInvalidDPoPProof},
		"stale iat":              {[]string{h.proof(t, http.MethodGet, photos, tok, "", now.Add(-10*time.Minute))}, resource.CodeInvalidDPoPProof},
		"no ath":                 {[]string{h.proof(t, http.MethodGet, photos, "", "", now)}, resource.CodeInvalidDPoPProof},
		"two proofs":             {[]string{h.proof(t, http.MethodGet, photos, tok, "", now), h.proof(t, http.MethodGet, photos, tok, "", now)}, resource.CodeInvalidDPoPProof},
		"another key":            {[]string{other.proof(t, http.MethodGet, photos, tok, "", now)}, resource.CodeInvalidToken},
	} {
		t.Run(name, func(t *testing.T) { wantRefused(t, s.call(http.MethodGet, tok, c.proofs...), c.code) })
	}
}

func TestNonce(t *testing.T) {
	nonces := dpop.NewNonces([]byte("api nonce key of at least 32 bytes!"), time.Minute)
	s := newStack(t, dpopcheck.Config{Nonces: nonces})
	h := newHolder(t)
	tok := s.token(t, h.jkt)
	rec := s.call(http.MethodGet, tok, h.proof(t, http.MethodGet, photos, tok, "", time.Now()))
	wantRefused(t, rec, resource.CodeUseDPoPNonce)
	nonce := rec.Header().Get("DPoP-Nonce")
	if !nonces.Valid(nonce, time.Now()) {
		t.Fatalf("DPoP-Nonce %q is not a current nonce", nonce)
	}
	if rec := s.call(http.MethodGet, tok, h.proof(t, http.MethodGet, photos, tok, nonce, time.Now())); rec.Code != http.StatusOK {
		t.Fatalf("with the nonce: %d %s", rec.Code, rec.Body)
	}
}

// A replay cache that fails lets nothing through and blames no one.
func TestReplayCacheFailure(t *testing.T) {
	s := newStack(t, dpopcheck.Config{MaxProofs: 1})
	h := newHolder(t)
	tok := s.token(t, h.jkt)
	if rec := s.call(http.MethodGet, tok, h.proof(t, http.MethodGet, photos, tok, "", time.Now())); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	rec := s.call(http.MethodGet, tok, h.proof(t, http.MethodGet, photos, tok, "", time.Now()))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("full cache: %d %v", rec.Code, rec.Header())
	}
}

func TestNewNeedsBaseURL(t *testing.T) {
	for _, base := range []string{"", "photos.example.test", "ftp://x.test", "https://x.test/?q=1"} {
		if _, err := dpopcheck.New(dpopcheck.Config{BaseURL: base}); err == nil {
			t.Errorf("New took BaseURL %q", base)
		}
	}
}
