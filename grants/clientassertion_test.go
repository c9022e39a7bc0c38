package grants_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/clients"
	"authserver/fetcher"
	"authserver/grants"
	"authserver/ratelimit"
	"authserver/store"
)

const (
	testIssuer   = "https://issuer.test"
	assertionTyp = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// signingKey is a client's key pair with the alg it signs with.
type signingKey struct {
	kid    string
	alg    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func newSigningKey(t *testing.T, alg, kid string) signingKey {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: alg, method: jwt.GetSigningMethod(alg), priv: priv}
}

// jwk is the public JWK of k; extra members are added as they are.
func (k signingKey) jwk(extra map[string]any) map[string]any {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	out := map[string]any{"kid": k.kid, "use": "sig", "alg": k.alg}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		out["kty"], out["n"], out["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes()
		out["kty"], out["crv"], out["x"], out["y"] = "EC", "P-256", b64(raw[1:33]), b64(raw[33:])
	case ed25519.PublicKey:
		out["kty"], out["crv"], out["x"] = "OKP", "Ed25519", b64(pub)
	}
	for m, v := range extra {
		out[m] = v
	}
	return out
}

func jwksOf(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// claimsFor are the claims of a good assertion by client id.
func claimsFor(id string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": id, "sub": id, "aud": testIssuer, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}
}

func (k signingKey) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	if k.kid != "" {
		tok.Header["kid"] = k.kid
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertionStack is the harness's store and registry behind an endpoint
// with a replay store and a jwks_uri fetcher, on /token, /revoke and
// /introspect; audit records go to a buffer.
type assertionStack struct {
	*harness
	base  string
	audit *lockedBuffer
}

// lockedBuffer is an audit log the server's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newAssertionStack(t *testing.T, keys grants.KeysFetcher) *assertionStack {
	t.Helper()
	return newAssertionStackWith(t, keys, nil)
}

// newAssertionStackWith is newAssertionStack with replay in place of the
// store's RememberOnce (nil: the store's).
func newAssertionStackWith(t *testing.T, keys grants.KeysFetcher, replay grants.ReplayStore) *assertionStack {
	t.Helper()
	h := newHarness(t)
	if replay == nil {
		replay = h.store
	}
	s := &assertionStack{harness: h, audit: &lockedBuffer{}}
	e := grants.NewEndpoint(testConfig(), grants.Deps{
		Clients: h.clients, Users: h.users, Families: h.store, Codes: h.store, Deny: h.store,
		Limiter: ratelimit.New(h.store), Issuer: h.issuer, Revoker: h.endpointRevoker(), Chain: testChain,
		Audit:  slog.New(slog.NewTextHandler(s.audit, nil)),
		Replay: replay, ClientKeys: keys,
	})
	s.base = serveAll(t, e)
	return s
}

// pkClient registers a private_key_jwt client with an inline key set.
func (s *assertionStack) pkClient(t *testing.T, jwks []byte) string {
	t.Helper()
	c, secret, err := s.clients.Create(context.Background(), clients.Registration{
		Name: "machine", AuthMethod: clients.AuthPrivateKeyJWT, JWKS: jwks,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || len(c.SecretHash) != 0 {
		t.Fatal("a private_key_jwt client was issued a secret")
	}
	return c.ID
}

// withAssertion posts form plus the assertion to path.
func (s *assertionStack) withAssertion(t *testing.T, path string, form url.Values, assertion string) reply {
	t.Helper()
	r, err := s.tryAssertion(path, form, assertion)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *assertionStack) tryAssertion(path string, form url.Values, assertion string) (reply, error) {
	f := url.Values{"client_assertion_type": {assertionTyp}, "client_assertion": {assertion}}
	for k, v := range form {
		f[k] = v
	}
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(f.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return tryDoAny(req)
}

// tryDoAny is tryDo for answers whose body may be empty (a revocation).
func tryDoAny(req *http.Request) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r, nil
}

var clientCredentials = url.Values{"grant_type": {"client_credentials"}}

// A client signs its assertion with each supported alg and gets a token
// issued to it.
func TestClientAssertionClientCredentials(t *testing.T) {
	s := newAssertionStack(t, nil)
	for _, alg := range clients.AssertionAlgs {
		t.Run(alg, func(t *testing.T) {
			k := newSigningKey(t, alg, "k-"+alg)
			id := s.pkClient(t, jwksOf(k.jwk(nil)))
			r := s.withAssertion(t, "/token", clientCredentials, k.sign(t, claimsFor(id)))
			wantToken(t, r)
			claims, err := s.issuer.Verify(r.str("access_token"))
			if err != nil || claims.ClientID != id {
				t.Fatalf("access token: %+v, %v; want one issued to %s", claims, err, id)
			}
			// The token endpoint URL is an accepted aud too (RFC 7523 §3),
			// and a kid-less assertion is tried with each key of its type.
			c := claimsFor(id)
			c["aud"] = testIssuer + "/token"
			k.kid = ""
			wantToken(t, s.withAssertion(t, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, k.sign(t, c)))
		})
	}
}

// /introspect and /revoke take an assertion as /token does.
func TestClientAssertionIntrospectAndRevoke(t *testing.T) {
	s := newAssertionStack(t, nil)
	k := newSigningKey(t, "ES256", "k1")
	id := s.pkClient(t, jwksOf(k.jwk(nil)))
	access := s.withAssertion(t, "/token", clientCredentials, k.sign(t, claimsFor(id))).str("access_token")

	r := s.withAssertion(t, "/introspect", url.Values{"token": {access}}, k.sign(t, claimsFor(id)))
	if r.status != http.StatusOK || r.body["active"] != true || r.body["client_id"] != id {
		t.Fatalf("introspect: %d %v; want active, client %s", r.status, r.body, id)
	}
	if r := s.withAssertion(t, "/revoke", url.Values{"token": {access}}, k.sign(t, claimsFor(id))); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %v", r.status, r.body)
	}
	s.wantDenied(t, "revoked with an assertion", access)
	r = s.withAssertion(t, "/introspect", url.Values{"token": {access}}, k.sign(t, claimsFor(id)))
	if r.status != http.StatusOK || r.body["active"] != false {
		t.Fatalf("introspect after revocation: %d %v; want inactive", r.status, r.body)
	}
	// Without a valid assertion, neither endpoint answers.
	bad := claimsFor(id)
	bad["aud"] = "https://other.test"
	for _, p := range []string{"/introspect", "/revoke"} {
		wantError(t, s.withAssertion(t, p, url.Values{"token": {access}}, k.sign(t, bad)), http.StatusUnauthorized, "invalid_client")
	}
}

// An assertion is good once: sent again, or by 30 callers at once, it
// gets exactly one token, and the replay is audited.
func TestClientAssertionReplay(t *testing.T) {
	s := newAssertionStack(t, nil)
	k := newSigningKey(t, "ES256", "k1")
	id := s.pkClient(t, jwksOf(k.jwk(nil)))

	once := k.sign(t, claimsFor(id))
	wantToken(t, s.withAssertion(t, "/token", clientCredentials, once))
	wantError(t, s.withAssertion(t, "/token", clientCredentials, once), http.StatusUnauthorized, "invalid_client")
	// Another endpoint does not make it new.
	wantError(t, s.withAssertion(t, "/introspect", url.Values{"token": {"x"}}, once), http.StatusUnauthorized, "invalid_client")
	if !strings.Contains(s.audit.String(), "event=client_auth_failed") || !strings.Contains(s.audit.String(), "used before") {
		t.Fatalf("replay not audited: %s", s.audit.String())
	}

	shared := k.sign(t, claimsFor(id))
	const n = 30
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-gate
			r, err := s.tryAssertion("/token", clientCredentials, shared)
			switch {
			case err != nil:
				t.Error(err)
			case r.status == http.StatusOK:
				ok.Add(1)
			case r.status == http.StatusUnauthorized && r.str("error") == "invalid_client":
				refused.Add(1)
			default:
				t.Errorf("unexpected answer %d %v", r.status, r.body)
			}
		})
	}
	close(gate)
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != n-1 {
		t.Fatalf("%d concurrent uses of one assertion: %d tokens, %d refused; want 1 and %d", n, ok.Load(), refused.Load(), n-1)
	}
}

// Every way an assertion can be wrong is invalid_client (401).
func TestClientAssertionRefused(t *testing.T) {
	s := newAssertionStack(t, nil)
	k := newSigningKey(t, "ES256", "k1")
	rsaKey := newSigningKey(t, "RS256", "r1")
	id := s.pkClient(t, jwksOf(k.jwk(nil), rsaKey.jwk(nil)))
	otherKey := newSigningKey(t, "ES256", "k1") // same kid, another client's key
	otherID := s.pkClient(t, jwksOf(otherKey.jwk(nil)))
	secretID, _ := s.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})

	with := func(change func(jwt.MapClaims)) string {
		c := claimsFor(id)
		change(c)
		return k.sign(t, c)
	}
	now := time.Now()
	// alg none, and HS256 keyed with the client's public key (the
	// algorithm-confusion attack), both with the client's claims.
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(id)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, k.priv.Public())})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsFor(id))
	hs.Header["kid"] = "k1"
	hsSigned, _ := hs.SignedString(pubPEM)
	// An RS256 key's assertion relabelled PS256 (alg is not the key's).
	relabelled := rsaKey.sign(t, claimsFor(id))
	parts := strings.Split(relabelled, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"PS256","kid":"r1","typ":"JWT"}`))

	cases := []struct {
		name, assertion string
		form            url.Values
		wantDesc        string // part of the description, when it matters
	}{
		{"wrong aud", with(func(c jwt.MapClaims) { c["aud"] = "https://other.test" }), nil, ""},
		{"aud of another endpoint", with(func(c jwt.MapClaims) { c["aud"] = testIssuer + "/introspect" }), nil, ""},
		{"aud naming another server as well", with(func(c jwt.MapClaims) { c["aud"] = []string{testIssuer, "https://other.test"} }), nil, ""},
		{"no aud", with(func(c jwt.MapClaims) { delete(c, "aud") }), nil, ""},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), nil, ""},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), nil, ""},
		{"exp too far ahead", with(func(c jwt.MapClaims) { c["exp"] = now.Add(time.Hour).Unix() }), nil, ""},
		{"iat in the future", with(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() }), nil, ""},
		{"nbf in the future", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), nil, ""},
		{"no jti", with(func(c jwt.MapClaims) { delete(c, "jti") }), nil, ""},
		{"iss is not sub", with(func(c jwt.MapClaims) { c["sub"] = otherID }), nil, ""},
		{"no iss", with(func(c jwt.MapClaims) { delete(c, "iss") }), nil, ""},
		{"client_id is another client", k.sign(t, claimsFor(id)), url.Values{"client_id": {otherID}}, ""},
		{"signed with another client's key", otherKey.sign(t, claimsFor(id)), nil, ""},
		{"alg none", none, nil, ""},
		{"HS256 with the public key as secret", hsSigned, nil, ""},
		{"alg relabelled", strings.Join(parts, "."), nil, ""},
		{"tampered claims", func() string {
			p := strings.Split(k.sign(t, claimsFor(id)), ".")
			c := claimsFor(otherID)
			b, _ := json.Marshal(c)
			p[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(p, ".")
		}(), nil, ""},
		{"unknown client", with(func(c jwt.MapClaims) { c["iss"], c["sub"] = "nobody", "nobody" }), nil, ""},
		{"a client_secret_basic client", k.sign(t, claimsFor(secretID)), nil, "not registered for private_key_jwt"},
		{"not a JWT", "not.a.jwt", nil, ""},
		{"empty assertion", "", nil, ""},
		{"wrong assertion type", k.sign(t, claimsFor(id)), url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range c.form {
				form[k] = v
			}
			r := s.withAssertion(t, "/token", form, c.assertion)
			wantError(t, r, http.StatusUnauthorized, "invalid_client")
			if d := r.str("error_description"); d == "" || strings.Contains(d, c.assertion) && c.assertion != "" {
				t.Fatalf("description %q: want one that does not echo the assertion", d)
			}
			if !strings.Contains(r.str("error_description"), c.wantDesc) {
				t.Fatalf("description %q, want it to say %q", r.str("error_description"), c.wantDesc)
			}
		})
	}
	// The good assertion still works: nothing above was refused for
	// something the stack got wrong.
	wantToken(t, s.withAssertion(t, "/token", clientCredentials, k.sign(t, claimsFor(id))))

	t.Run("assertion with Basic credentials", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionTyp}, "client_assertion": {k.sign(t, claimsFor(id))}}
		req, _ := http.NewRequest(http.MethodPost, s.base+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, "x")
		wantError(t, do(t, req), http.StatusBadRequest, "invalid_request")
	})
	t.Run("assertion with client_secret", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_secret": {"x"}}
		wantError(t, s.withAssertion(t, "/token", form, k.sign(t, claimsFor(id))), http.StatusBadRequest, "invalid_request")
	})
}

func mustPKIX(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A private_key_jwt client has no secret, and no secret authenticates it:
// not an empty one, not a guessed one, in the header or the body.
func TestPrivateKeyJWTClientSecretRefused(t *testing.T) {
	s := newAssertionStack(t, nil)
	k := newSigningKey(t, "EdDSA", "e1")
	id := s.pkClient(t, jwksOf(k.jwk(nil)))
	for _, secret := range []string{"", "guess", rand.Text()} {
		wantError(t, s.postURL(t, s.base, clientCredentials, id, secret), http.StatusUnauthorized, "invalid_client")
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		wantError(t, s.postURL(t, s.base, form, "", ""), http.StatusUnauthorized, "invalid_client")
	}
	// Naming itself without proof is no authentication either.
	wantError(t, s.postURL(t, s.base, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, "", ""), http.StatusUnauthorized, "invalid_client")
	if _, _, err := s.clients.RotateSecret(context.Background(), id, 0); err == nil {
		t.Fatal("RotateSecret gave a private_key_jwt client a secret")
	}
}

// jwksOrigin serves a JWK Set over TLS that the test can change, counting
// fetches.
type jwksOrigin struct {
	srv    *httptest.Server
	mu     sync.Mutex
	set    []byte
	hits   atomic.Int32
	caFile string
}

func newJWKSOrigin(t *testing.T, set []byte) *jwksOrigin {
	t.Helper()
	o := &jwksOrigin{set: set}
	o.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		defer o.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(o.set)
	}))
	t.Cleanup(o.srv.Close)
	o.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(o.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *jwksOrigin) serve(set []byte) { o.mu.Lock(); o.set = set; o.mu.Unlock() }

// A jwks_uri client's keys are fetched through the fetcher, from cache
// while they serve, and again when an assertion names a kid the cached set
// lacks (the client rotated); a known kid with a bad signature fetches
// nothing.
func TestClientAssertionJWKSURI(t *testing.T) {
	t.Parallel() // it waits out fetcher.MinRefresh
	k1, k2 := newSigningKey(t, "ES256", "k1"), newSigningKey(t, "ES256", "k2")
	origin := newJWKSOrigin(t, jwksOf(k1.jwk(nil)))
	f, err := fetcher.New(fetcher.Config{AllowLoopback: true, RootCAFile: origin.caFile})
	if err != nil {
		t.Fatal(err)
	}
	s := newAssertionStack(t, fetcher.NewCache(f, fetcher.CacheConfig{}))
	c, _, err := s.clients.Create(context.Background(), clients.Registration{
		Name: "rotating", AuthMethod: clients.AuthPrivateKeyJWT, JWKSURI: origin.srv.URL + "/jwks.json",
		GrantTypes: []string{"client_credentials"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := c.ID
	first := time.Now()
	wantToken(t, s.withAssertion(t, "/token", clientCredentials, k1.sign(t, claimsFor(id))))
	wantToken(t, s.withAssertion(t, "/token", clientCredentials, k1.sign(t, claimsFor(id))))
	if n := origin.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for two assertions, want 1 (cached)", n)
	}
	forged := newSigningKey(t, "ES256", "k1")
	wantError(t, s.withAssertion(t, "/token", clientCredentials, forged.sign(t, claimsFor(id))), http.StatusUnauthorized, "invalid_client")
	if n := origin.hits.Load(); n != 1 {
		t.Fatalf("a bad signature under a known kid fetched the set again (%d fetches)", n)
	}

	// The client rotates to k2. Refetches are bounded by MinRefresh.
	origin.serve(jwksOf(k2.jwk(nil)))
	time.Sleep(time.Until(first.Add(fetcher.MinRefresh + 100*time.Millisecond)))
	wantToken(t, s.withAssertion(t, "/token", clientCredentials, k2.sign(t, claimsFor(id))))
	if n := origin.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after the rotation, want 2", n)
	}
	// k1 is gone from the set: refused, and the refetch it asks for is
	// within MinRefresh, so the origin is not hit again.
	wantError(t, s.withAssertion(t, "/token", clientCredentials, k1.sign(t, claimsFor(id))), http.StatusUnauthorized, "invalid_client")
	if n := origin.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want still 2", n)
	}
}

// A jwks_uri client is refused, not served, by an endpoint without a
// fetcher.
func TestClientAssertionJWKSURIWithoutFetcher(t *testing.T) {
	s := newAssertionStack(t, nil)
	k := newSigningKey(t, "ES256", "k1")
	c, _, err := s.clients.Create(context.Background(), clients.Registration{
		Name: "remote", AuthMethod: clients.AuthPrivateKeyJWT, JWKSURI: "https://keys.example/jwks.json",
		GrantTypes: []string{"client_credentials"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, s.withAssertion(t, "/token", clientCredentials, k.sign(t, claimsFor(c.ID))), http.StatusUnauthorized, "invalid_client")
}

// downReplay is a replay store in an outage.
type downReplay struct{}

func (downReplay) RememberOnce(context.Context, string, time.Time) (bool, error) {
	return false, store.Unavailable(errors.New("connection refused"))
}

// When the replay record cannot be written, the assertion is neither
// accepted nor blamed on the client: 503 with Retry-After, as every outage.
func TestClientAssertionStoreOutage(t *testing.T) {
	s := newAssertionStackWith(t, nil, downReplay{})
	k := newSigningKey(t, "ES256", "k1")
	id := s.pkClient(t, jwksOf(k.jwk(nil)))
	r, err := s.tryAssertion("/token", clientCredentials, k.sign(t, claimsFor(id)))
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" || r.header.Get("Retry-After") != "2" {
		t.Fatalf("outage: %d %v Retry-After %q; want 503 temporarily_unavailable, Retry-After 2", r.status, r.body, r.header.Get("Retry-After"))
	}
}

// A jwks_uri on an internal address is not fetched: the fetcher's address
// rule holds for client keys too, and the client is refused.
func TestClientAssertionJWKSURIInternalAddressRefused(t *testing.T) {
	k := newSigningKey(t, "ES256", "k1")
	origin := newJWKSOrigin(t, jwksOf(k.jwk(nil)))
	f, err := fetcher.New(fetcher.Config{RootCAFile: origin.caFile}) // no AllowLoopback
	if err != nil {
		t.Fatal(err)
	}
	s := newAssertionStack(t, fetcher.NewCache(f, fetcher.CacheConfig{}))
	c, _, err := s.clients.Create(context.Background(), clients.Registration{
		Name: "internal", AuthMethod: clients.AuthPrivateKeyJWT, JWKSURI: origin.srv.URL + "/jwks.json",
		GrantTypes: []string{"client_credentials"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.withAssertion(t, "/token", clientCredentials, k.sign(t, claimsFor(c.ID)))
	wantError(t, r, http.StatusUnauthorized, "invalid_client")
	if origin.hits.Load() != 0 {
		t.Fatalf("the loopback jwks_uri was fetched %d times", origin.hits.Load())
	}
	if !strings.Contains(r.str("error_description"), "jwks_uri could not be fetched") {
		t.Fatalf("description %q", r.str("error_description"))
	}
}
