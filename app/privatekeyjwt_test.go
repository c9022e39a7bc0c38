package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/config"
	"authserver/store/redistest"
)

// m2mKey is a machine client's key pair: golang.org/x/oauth2 cannot make
// client assertions, so the tests sign them with golang-jwt.
type m2mKey struct{ priv *ecdsa.PrivateKey }

func newM2MKey(t *testing.T) m2mKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return m2mKey{k}
}

func (k m2mKey) jwks() json.RawMessage {
	raw, _ := k.priv.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "m2m-1", "use": "sig", "alg": "ES256", "x": b64(raw[1:33]), "y": b64(raw[33:]),
	}}})
	return b
}

// assertion is a fresh client assertion for the server whose issuer is aud.
func (k m2mKey) assertion(t *testing.T, clientID, aud string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	tok.Header["kid"] = "m2m-1"
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// postAssertion posts form with the assertion to base+path and decodes the
// answer.
func postAssertion(t *testing.T, base, path, assertion string, form url.Values) (int, map[string]any) {
	t.Helper()
	f := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	for k, v := range form {
		f[k] = v
	}
	resp, err := http.Post(base+path, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// privateKeyJWTFlow registers a secretless machine client through the
// admin API, then gets a token, introspects it, and has a replayed
// assertion refused, on nodes a and b (the same node or two sharing a
// store).
func privateKeyJWTFlow(t *testing.T, a, b *node, issuer string) {
	var meta map[string]any
	resp, err := http.Get(a.base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if methods, _ := meta["token_endpoint_auth_methods_supported"].([]any); !slices.Contains(methods, any("private_key_jwt")) {
		t.Fatalf("metadata does not list private_key_jwt: %v", meta["token_endpoint_auth_methods_supported"])
	}

	k := newM2MKey(t)
	cl := a.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "m2m", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": k.jwks(),
	})
	id, _ := cl["id"].(string)
	if _, ok := cl["client_secret"]; ok || id == "" {
		t.Fatalf("create: %v; want an id and no secret", cl)
	}

	once := k.assertion(t, id, issuer)
	status, tok := postAssertion(t, a.base, "/token", once, url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusOK || tok["access_token"] == nil || tok["scope"] != "invoices:read" {
		t.Fatalf("token: %d %v", status, tok)
	}
	status, in := postAssertion(t, b.base, "/introspect", k.assertion(t, id, issuer), url.Values{"token": {tok["access_token"].(string)}})
	if status != http.StatusOK || in["active"] != true || in["client_id"] != id {
		t.Fatalf("introspect: %d %v", status, in)
	}
	// The assertion a used is spent on b too: the replay record is the
	// store's.
	if status, body := postAssertion(t, b.base, "/token", once, url.Values{"grant_type": {"client_credentials"}}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("replayed assertion: %d %v; want 401 invalid_client", status, body)
	}

	// Concurrent uses of one assertion across both nodes: one token.
	shared := k.assertion(t, id, issuer)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Go(func() {
			if status, _ := postAssertion(t, n.base, "/token", shared, url.Values{"grant_type": {"client_credentials"}}); status == http.StatusOK {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("20 concurrent uses of one assertion got %d tokens, want 1", wins.Load())
	}
}

func TestPrivateKeyJWTEmbedded(t *testing.T) {
	n := startNode(t, nil)
	privateKeyJWTFlow(t, n, n, n.base)
}

func TestPrivateKeyJWTTwoNodesOnRedis(t *testing.T) {
	a, b := twoNodesOnRedis(t)
	privateKeyJWTFlow(t, a, b, sharedIssuer)
}

// sharedIssuer is the one issuer of twoNodesOnRedis's nodes.
const sharedIssuer = "https://auth.example.test"

// twoNodesOnRedis starts two nodes behind one issuer on one Redis, as two
// replicas behind a load balancer are.
func twoNodesOnRedis(t *testing.T) (a, b *node) {
	r := redistest.StartStandalone(t)
	shared := func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.KeyEncryptionSecret = "a shared key encryption secret for both nodes"
		c.Issuer, c.Tokens.Audience = sharedIssuer, "https://api.example.test"
	}
	return startNode(t, shared), startNode(t, shared)
}
