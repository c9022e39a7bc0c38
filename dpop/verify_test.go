package dpop

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newVerifier() *Verifier { return &Verifier{Now: fixedClock} }

func tokenRequest(proof string) Request {
	return Request{Proof: proof, Method: "POST", URL: testURL}
}

func TestVerifyAcceptsEachKeyType(t *testing.T) {
	cases := []struct {
		alg string
		key crypto.Signer
	}{
		{"ES256", newECKey(t, elliptic.P256())},
		{"ES384", newECKey(t, elliptic.P384())},
		{"RS256", rsaKey(t, 2048)},
		{"PS256", rsaKey(t, 2048)},
		{"EdDSA", newEdKey(t)},
	}
	for _, c := range cases {
		t.Run(c.alg, func(t *testing.T) {
			proof, err := NewProof(c.key, c.alg, "POST", testURL, "", "", testNow)
			if err != nil {
				t.Fatal(err)
			}
			got, err := newVerifier().Verify(context.Background(), tokenRequest(proof))
			if err != nil {
				t.Fatal(err)
			}
			jkt, err := ThumbprintKey(c.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if got.JKT != jkt || got.JTI == "" || !got.IssuedAt.Equal(testNow) {
				t.Fatalf("proof %+v, want jkt %s issued at %v", got, jkt, testNow)
			}
		})
	}
}

func TestVerifyAtResourceServer(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	jkt, _ := ThumbprintKey(key.Public())
	proof, err := NewProof(key, "ES256", "GET", "https://api.example.com/orders?page=2", "the-access-token", "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newVerifier().Verify(context.Background(), Request{
		Proof: proof, Method: "GET", URL: "https://api.example.com/orders?page=3",
		AccessToken: "the-access-token", ExpectedJKT: jkt,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyRefuses breaks one rule of RFC 9449 §4.3 per case, and checks
// that rule, not another, refused the proof.
func TestVerifyRefuses(t *testing.T) {
	es256 := newECKey(t, elliptic.P256())
	other := newECKey(t, elliptic.P256())
	p384 := newECKey(t, elliptic.P384())
	rsa1024 := rsaKey(t, 1024)
	valid := proofSpec{key: es256}.make(t)
	otherJWK := func() map[string]any {
		m, err := publicJWK(other.Public())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	withMember := func(name string, value any) map[string]any {
		m, _ := publicJWK(es256.Public())
		m[name] = value
		return m
	}
	rawJWK, _ := canonicalJWK(es256.Public())

	cases := []struct {
		name    string
		proof   string
		request func(*Request)
		why     string
	}{
		{name: "empty", proof: "", why: "missing"},
		{name: "two values joined", proof: valid + ", " + valid, why: "more than one"},
		{name: "two values joined without space", proof: valid + "," + valid, why: "more than one"},
		{name: "leading space", proof: " " + valid, why: "not a compact JWS"},
		{name: "scheme prefix", proof: "DPoP " + valid, why: "not a compact JWS"},
		{name: "four segments", proof: valid + ".x", why: "not a compact JWS"},
		{name: "too large", proof: valid + strings.Repeat("A", maxProofBytes), why: "too large"},
		{name: "not base64", proof: "a.b.c", why: "well-formed"},
		{name: "padded segment", proof: strings.Replace(valid, ".", "=.", 1), why: "not a compact JWS"},

		{name: "typ missing", proof: proofSpec{key: es256, header: map[string]any{"typ": nil}}.make(t), why: "typ"},
		{name: "typ JWT", proof: proofSpec{key: es256, header: map[string]any{"typ": "JWT"}}.make(t), why: "typ"},
		{name: "typ at+jwt", proof: proofSpec{key: es256, header: map[string]any{"typ": "at+jwt"}}.make(t), why: "typ"},

		{name: "alg none", proof: proofSpec{key: es256, alg: "none", signer: jwt.UnsafeAllowNoneSignatureType}.make(t), why: `alg "none"`},
		{name: "alg HS256 keyed with the jwk", proof: proofSpec{key: es256, alg: "HS256", signer: rawJWK}.make(t), why: `alg "HS256"`},
		{name: "alg unknown", proof: proofSpec{key: es256, alg: "ES999"}.make(t), why: "alg is missing or unknown"},
		{name: "alg missing", proof: proofSpec{key: es256, header: map[string]any{"alg": nil}}.make(t), why: "alg is missing or unknown"},
		{name: "alg ES384 with a P-256 key", proof: proofSpec{key: es256, header: map[string]any{"alg": "ES384"}}.make(t), why: "not a key for alg ES384"},
		{name: "alg ES256 with a P-384 key", proof: proofSpec{key: p384, alg: "ES384", header: map[string]any{"alg": "ES256"}}.make(t), why: "not a key for alg ES256"},
		{name: "alg RS256 with an EC key", proof: proofSpec{key: es256, header: map[string]any{"alg": "RS256"}}.make(t), why: "not a key for alg RS256"},
		{name: "crit header", proof: proofSpec{key: es256, header: map[string]any{"crit": []string{"exp"}}}.make(t), why: "crit"},

		{name: "jwk missing", proof: proofSpec{key: es256, header: map[string]any{"jwk": nil}}.make(t), why: "jwk header is missing"},
		{name: "jwk a string", proof: proofSpec{key: es256, header: map[string]any{"jwk": string(rawJWK)}}.make(t), why: "jwk header is missing"},
		{name: "jwk with d", proof: proofSpec{key: es256, header: map[string]any{"jwk": withMember("d", "AAAA")}}.make(t), why: `private member "d"`},
		{name: "jwk with k", proof: proofSpec{key: es256, header: map[string]any{"jwk": withMember("k", "AAAA")}}.make(t), why: `private member "k"`},
		{name: "jwk kty oct", proof: proofSpec{key: es256, header: map[string]any{"jwk": withMember("kty", "oct")}}.make(t), why: "kty"},
		{name: "jwk RSA 1024 bits", proof: proofSpec{key: rsa1024, alg: "RS256"}.make(t), why: "1024 bits"},
		{name: "jwk of another key", proof: proofSpec{key: es256, header: map[string]any{"jwk": otherJWK()}}.make(t), why: "signature"},
		{name: "signature of other claims", proof: tamperPayload(t, valid), why: "signature"},

		{name: "jti missing", proof: proofSpec{key: es256, claims: map[string]any{"jti": nil}}.make(t), why: "jti"},
		{name: "jti too long", proof: proofSpec{key: es256, claims: map[string]any{"jti": strings.Repeat("j", maxJTIBytes+1)}}.make(t), why: "jti"},
		{name: "jti a number", proof: proofSpec{key: es256, claims: map[string]any{"jti": 7}}.make(t), why: "well-formed"},

		{name: "htm missing", proof: proofSpec{key: es256, claims: map[string]any{"htm": nil}}.make(t), why: "htm"},
		{name: "htm GET for POST", proof: proofSpec{key: es256, claims: map[string]any{"htm": "GET"}}.make(t), why: "htm"},
		{name: "htm empty for an empty method", proof: proofSpec{key: es256, claims: map[string]any{"htm": ""}}.make(t), request: func(r *Request) { r.Method = "" }, why: "htm"},
		{name: "htm lower case", proof: proofSpec{key: es256, claims: map[string]any{"htm": "post"}}.make(t), why: "htm"},

		{name: "htu missing", proof: proofSpec{key: es256, claims: map[string]any{"htu": nil}}.make(t), why: "htu"},
		{name: "htu other host", proof: proofSpec{key: es256, claims: map[string]any{"htu": "https://evil.example.com/token"}}.make(t), why: "htu"},
		{name: "htu other path", proof: proofSpec{key: es256, claims: map[string]any{"htu": "https://as.example.com/userinfo"}}.make(t), why: "htu"},
		{name: "htu path case", proof: proofSpec{key: es256, claims: map[string]any{"htu": "https://as.example.com/Token"}}.make(t), why: "htu"},
		{name: "htu http for https", proof: proofSpec{key: es256, claims: map[string]any{"htu": "http://as.example.com/token"}}.make(t), why: "htu"},
		{name: "htu other port", proof: proofSpec{key: es256, claims: map[string]any{"htu": "https://as.example.com:8443/token"}}.make(t), why: "htu"},
		{name: "htu relative", proof: proofSpec{key: es256, claims: map[string]any{"htu": "/token"}}.make(t), why: "htu"},
		{name: "htu with user info", proof: proofSpec{key: es256, claims: map[string]any{"htu": "https://u@as.example.com/token"}}.make(t), why: "htu"},

		{name: "iat missing", proof: proofSpec{key: es256, claims: map[string]any{"iat": nil}}.make(t), why: "iat is missing"},
		{name: "iat too old", proof: proofSpec{key: es256, claims: map[string]any{"iat": testNow.Add(-DefaultMaxAge - time.Second).Unix()}}.make(t), why: "too old"},
		{name: "iat in the future", proof: proofSpec{key: es256, claims: map[string]any{"iat": testNow.Add(DefaultMaxSkew + time.Second).Unix()}}.make(t), why: "future"},
		{name: "iat negative", proof: proofSpec{key: es256, claims: map[string]any{"iat": -1}}.make(t), why: "not a time"},
		{name: "iat huge", proof: proofSpec{key: es256, claims: map[string]any{"iat": 1e300}}.make(t), why: "not a time"},
		{name: "iat a string", proof: proofSpec{key: es256, claims: map[string]any{"iat": "1800000000"}}.make(t), why: "well-formed"},

		{name: "ath missing", proof: valid, request: withToken("the-token"), why: "ath"},
		{name: "ath of another token", proof: proofSpec{key: es256, claims: map[string]any{"ath": accessTokenHash("other")}}.make(t), request: withToken("the-token"), why: "ath"},
		{name: "ath unhashed", proof: proofSpec{key: es256, claims: map[string]any{"ath": "the-token"}}.make(t), request: withToken("the-token"), why: "ath"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tokenRequest(c.proof)
			if c.request != nil {
				c.request(&r)
			}
			_, err := newVerifier().Verify(context.Background(), r)
			wantRefused(t, err, ErrInvalidProof, c.why)
		})
	}
}

func withToken(token string) func(*Request) {
	return func(r *Request) { r.AccessToken = token }
}

// tamperPayload swaps the claims of a proof for others, keeping the
// signature.
func tamperPayload(t *testing.T, proof string) string {
	parts := strings.Split(proof, ".")
	raw, err := b64.decode(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = b64.encode([]byte(strings.Replace(string(raw), `"POST"`, `"GET"`, 1)))
	return strings.Join(parts, ".")
}

func TestVerifyOnlyConfiguredAlgorithms(t *testing.T) {
	proof, err := NewProof(rsaKey(t, 2048), "RS256", "POST", testURL, "", "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Now: fixedClock, Algorithms: []string{"ES256"}}
	_, err = v.Verify(context.Background(), tokenRequest(proof))
	wantRefused(t, err, ErrInvalidProof, `alg "RS256" is not allowed`)

	// Listing a symmetric algorithm or none does not make it acceptable.
	v.Algorithms = []string{"HS256", "none"}
	es256 := newECKey(t, elliptic.P256())
	rawJWK, _ := canonicalJWK(es256.Public())
	for _, spec := range []proofSpec{
		{key: es256, alg: "HS256", signer: rawJWK},
		{key: es256, alg: "none", signer: jwt.UnsafeAllowNoneSignatureType},
	} {
		_, err = v.Verify(context.Background(), tokenRequest(spec.make(t)))
		wantRefused(t, err, ErrInvalidProof, "is not allowed")
	}
}

func TestVerifyIatWindowEdges(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	v := &Verifier{Now: fixedClock, MaxAge: 30 * time.Second, MaxSkew: 2 * time.Second}
	for _, iat := range []time.Time{testNow.Add(-30 * time.Second), testNow.Add(2 * time.Second)} {
		proof, _ := NewProof(key, "ES256", "POST", testURL, "", "", iat)
		if _, err := v.Verify(context.Background(), tokenRequest(proof)); err != nil {
			t.Errorf("iat %v: %v", iat.Sub(testNow), err)
		}
	}
	for _, iat := range []time.Time{testNow.Add(-31 * time.Second), testNow.Add(3 * time.Second)} {
		proof, _ := NewProof(key, "ES256", "POST", testURL, "", "", iat)
		if _, err := v.Verify(context.Background(), tokenRequest(proof)); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("iat %v: error %v, want ErrInvalidProof", iat.Sub(testNow), err)
		}
	}
}

func TestVerifyHTUNormalization(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	cases := []struct{ htu, requestURL string }{
		{"https://AS.Example.COM/token", "https://as.example.com/token"},
		{"HTTPS://as.example.com/token", "https://as.example.com/token"},
		{"https://as.example.com:443/token", "https://as.example.com/token"},
		{"http://as.example.com:80/token", "http://as.example.com/token"},
		{"https://as.example.com:8443/token", "https://as.example.com:8443/token"},
		{"https://as.example.com", "https://as.example.com/"},
		{"https://as.example.com/a%2fb", "https://as.example.com/a%2Fb"},
		{"https://as.example.com/%74oken", "https://as.example.com/token"},
		{"https://as.example.com/x/../token", "https://as.example.com/token"},
		{"https://as.example.com/./token", "https://as.example.com/token"},
		{"https://as.example.com/token", "https://as.example.com/token?client=a#frag"},
		{"https://[2001:DB8::1]:443/token", "https://[2001:db8::1]/token"},
	}
	for _, c := range cases {
		proof := proofSpec{key: key, claims: map[string]any{"htu": c.htu}}.make(t)
		_, err := newVerifier().Verify(context.Background(), Request{Proof: proof, Method: "POST", URL: c.requestURL})
		if err != nil {
			t.Errorf("htu %s at %s: %v", c.htu, c.requestURL, err)
		}
	}
}

func TestVerifyExpectedJKT(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	other := newECKey(t, elliptic.P256())
	bound, _ := ThumbprintKey(key.Public())
	v := newVerifier()

	proof, _ := NewProof(key, "ES256", "POST", testURL, "", "", testNow)
	r := tokenRequest(proof)
	r.ExpectedJKT = bound
	if _, err := v.Verify(context.Background(), r); err != nil {
		t.Fatal(err)
	}

	proof, _ = NewProof(other, "ES256", "POST", testURL, "", "", testNow)
	r = tokenRequest(proof)
	r.ExpectedJKT = bound
	_, err := v.Verify(context.Background(), r)
	wantRefused(t, err, ErrKeyMismatch, "bound")
	if !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("ErrKeyMismatch %v is not also ErrInvalidProof", err)
	}
}

func TestVerifyNonce(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	nonces := NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute)
	v := &Verifier{Now: fixedClock, Nonces: nonces}
	verify := func(nonce string) error {
		proof, err := NewProof(key, "ES256", "POST", testURL, "", nonce, testNow)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), tokenRequest(proof))
		return err
	}

	wantRefused(t, verify(""), ErrUseNonce, "required")
	wantRefused(t, verify(nonces.Current(testNow.Add(-2*time.Minute))), ErrUseNonce, "stale")
	wantRefused(t, verify("not-a-nonce"), ErrUseNonce, "stale")
	if err := verify(nonces.Current(testNow)); err != nil {
		t.Fatalf("current nonce: %v", err)
	}
	if err := verify(nonces.Current(testNow.Add(-time.Minute))); err != nil {
		t.Fatalf("previous window's nonce: %v", err)
	}

	// A nonce does not rescue an otherwise invalid proof.
	proof := proofSpec{key: key, claims: map[string]any{"htm": "GET", "nonce": nonces.Current(testNow)}}.make(t)
	_, err := v.Verify(context.Background(), tokenRequest(proof))
	wantRefused(t, err, ErrInvalidProof, "htm")
}

func TestVerifyRefusesReplay(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	v := &Verifier{Now: fixedClock, Replay: newTestReplayCache()}
	proof, _ := NewProof(key, "ES256", "POST", testURL, "", "", testNow)
	if _, err := v.Verify(context.Background(), tokenRequest(proof)); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), tokenRequest(proof))
	wantRefused(t, err, ErrInvalidProof, "already used")
}

// TestVerifyReplayKeyIncludesKey: two clients choosing the same jti do not
// lock each other out.
func TestVerifyReplayKeyIncludesKey(t *testing.T) {
	v := &Verifier{Now: fixedClock, Replay: newTestReplayCache()}
	for range 2 {
		proof := proofSpec{key: newECKey(t, elliptic.P256()), claims: map[string]any{"jti": "same"}}.make(t)
		if _, err := v.Verify(context.Background(), tokenRequest(proof)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyRefusedProofUsesNoReplayEntry: a proof refused for another
// reason can be fixed and sent again without being taken for a replay.
func TestVerifyRefusedProofUsesNoReplayEntry(t *testing.T) {
	cache := newTestReplayCache()
	v := &Verifier{Now: fixedClock, Replay: cache}
	proof, _ := NewProof(newECKey(t, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow)
	r := tokenRequest(proof)
	r.Method = "GET"
	if _, err := v.Verify(context.Background(), r); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("error %v, want ErrInvalidProof", err)
	}
	if cache.Len() != 0 {
		t.Fatalf("cache holds %d entries, want 0", cache.Len())
	}
}

func TestVerifyReplayExpiry(t *testing.T) {
	var stored time.Time
	v := &Verifier{Now: fixedClock, Replay: replayFunc(func(_ string, expiry time.Time) (bool, error) {
		stored = expiry
		return true, nil
	})}
	proof, _ := NewProof(newECKey(t, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow)
	if _, err := v.Verify(context.Background(), tokenRequest(proof)); err != nil {
		t.Fatal(err)
	}
	if want := testNow.Add(DefaultMaxAge + DefaultMaxSkew); !stored.Equal(want) {
		t.Fatalf("expiry %v, want %v", stored, want)
	}
}

func TestVerifyConcurrentReplayAcceptsOne(t *testing.T) {
	v := &Verifier{Now: fixedClock, Replay: newTestReplayCache()}
	proof, _ := NewProof(newECKey(t, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow)
	const presenters = 100
	results := make(chan error, presenters)
	start := make(chan struct{})
	for range presenters {
		go func() {
			<-start
			_, err := v.Verify(context.Background(), tokenRequest(proof))
			results <- err
		}()
	}
	close(start)
	accepted := 0
	for range presenters {
		err := <-results
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrInvalidProof):
			t.Errorf("unexpected error %v", err)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d presenters accepted, want exactly 1", accepted)
	}
}

func TestVerifyServerErrors(t *testing.T) {
	proof, _ := NewProof(newECKey(t, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow)
	failing := errors.New("store down")
	v := &Verifier{Now: fixedClock, Replay: replayFunc(func(string, time.Time) (bool, error) { return false, failing })}
	_, err := v.Verify(context.Background(), tokenRequest(proof))
	if !errors.Is(err, failing) || errors.Is(err, ErrInvalidProof) {
		t.Fatalf("replay cache failure: error %v, want the cache's error only", err)
	}

	r := tokenRequest(proof)
	r.URL = "/token"
	_, err = newVerifier().Verify(context.Background(), r)
	if err == nil || errors.Is(err, ErrInvalidProof) {
		t.Fatalf("relative request URL: error %v, want a server error", err)
	}
}

func newTestReplayCache() *MemoryReplayCache {
	c := NewMemoryReplayCache(1000)
	c.Now = fixedClock
	return c
}

type replayFunc func(key string, expiry time.Time) (bool, error)

func (f replayFunc) Remember(_ context.Context, key string, expiry time.Time) (bool, error) {
	return f(key, expiry)
}
