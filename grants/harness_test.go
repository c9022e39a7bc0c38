package grants_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
	"authserver/keys"
	"authserver/ratelimit"
	"authserver/resources"
	"authserver/store/embedded"
	"authserver/tokens"
	"authserver/users"
)

// harness runs the token endpoint over a real embedded store.
type harness struct {
	store    *embedded.Store
	clients  *clients.Registry
	users    *users.Service
	issuer   *grants.Issuer
	keys     keySet
	endpoint *grants.Endpoint
	revoker  *tokens.Revoker
	// resources is the registry the endpoint resolves resource
	// parameters with (resources_test.go).
	resources *resources.Registry
	srv       *httptest.Server
}

var testScopes = []string{"read", "write", "admin", "offline_access"}

// testChain is every test node's refresh chain: nodes on one store share
// the key, as nodes sharing a key-encryption secret do.
var testChain = func() *tokens.Chain {
	c, err := tokens.NewChain([]byte("test key-encryption secret, 32 bytes+"))
	if err != nil {
		panic(err)
	}
	return c
}()

func testConfig() grants.Config {
	return grants.Config{
		AccessTTL:               15 * time.Minute,
		RefreshIdleTTL:          24 * time.Hour,
		RefreshAbsoluteTTL:      72 * time.Hour,
		CodeTTL:                 time.Minute,
		RequirePKCEConfidential: true,
		MaxBodyBytes:            64 << 10,
		PasswordLimits: ratelimit.PasswordLimits{
			PerUser:           ratelimit.Policy{Max: 5, Window: time.Minute},
			PerUserUntrusted:  ratelimit.Policy{Max: 20, Window: time.Minute},
			PerClient:         ratelimit.Policy{Max: 50, Window: time.Minute},
			InFlightPerSource: 2,
		},
		ClientAuthLimit: ratelimit.Policy{Max: 10, Window: time.Minute},
	}
}

// keySet is what the harness signs and verifies with.
type keySet interface {
	grants.KeySource
	JWKS() []byte
}

// newHarness signs access tokens with ES256 and holds no other key, so it
// cannot mint ID Tokens (newOIDCHarness can).
func newHarness(t *testing.T, tweak ...func(*grants.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, func(st *embedded.Store) (keySet, error) {
		km, err := keys.NewManager(st, []byte("test key encryption secret"), "ES256", keys.Settings{})
		if err != nil {
			return nil, err
		}
		return km, km.Init(context.Background())
	}, tweak...)
}

// newOIDCHarness holds a key of every ID Token algorithm too, as the app does.
func newOIDCHarness(t *testing.T, tweak ...func(*grants.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, func(st *embedded.Store) (keySet, error) {
		ks, err := keys.NewSet(st, []byte("test key encryption secret"), "ES256", clients.IDTokenAlgs, keys.Settings{})
		if err != nil {
			return nil, err
		}
		return ks, ks.Init(context.Background())
	}, tweak...)
}

func newHarnessWith(t *testing.T, newKeys func(*embedded.Store) (keySet, error), tweak ...func(*grants.Config)) *harness {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := newKeys(st)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	for _, f := range tweak {
		f(&cfg)
	}
	h := &harness{
		store:   st,
		clients: clients.NewRegistry(st, testScopes),
		users:   users.NewService(st, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1}),
		issuer:  grants.NewIssuer("https://issuer.test", []string{"https://api.test"}, km),
		keys:    km,
		// A zero TTL: every lookup reads the store, so a deletion shows
		// at once.
		resources: resources.NewRegistry(st, nil, 0, slog.New(slog.DiscardHandler)),
	}
	h.revoker = tokens.NewRevoker(st, h.users, h.clients, cfg.CodeTTL, cfg.AccessTTL, slog.New(slog.DiscardHandler))
	h.endpoint = grants.NewEndpoint(cfg, grants.Deps{
		Clients: h.clients, Users: h.users, Families: st, Codes: st, Deny: st,
		Limiter: ratelimit.New(st), Issuer: h.issuer, Resources: h.resources, Revoker: h.revoker, Chain: testChain,
		Audit: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	h.srv = httptest.NewServer(h.endpoint)
	t.Cleanup(h.srv.Close)
	return h
}

// endpointRevoker is the harness's Revoker, for a second endpoint on the
// same store.
func (h *harness) endpointRevoker() *tokens.Revoker { return h.revoker }

// client registers a client and returns its id and secret.
func (h *harness) client(t *testing.T, reg clients.Registration) (string, string) {
	t.Helper()
	if reg.Name == "" {
		reg.Name = "test client"
	}
	c, secret, err := h.clients.Create(context.Background(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

func (h *harness) user(t *testing.T, username, password string) *users.User {
	t.Helper()
	u, err := h.users.Create(context.Background(), username, password)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// reply is a decoded token endpoint answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

// post sends form to /token, with Basic credentials when id is not empty.
func (h *harness) post(t *testing.T, form url.Values, id, secret string) reply {
	t.Helper()
	return h.postURL(t, h.srv.URL, form, id, secret)
}

// postURL is post to the node at base.
func (h *harness) postURL(t *testing.T, base string, form url.Values, id, secret string) reply {
	t.Helper()
	r, err := h.tryPostURL(base, form, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryPost is post for goroutines other than the test's, which must not
// call t.Fatal: it returns what went wrong instead.
func (h *harness) tryPost(form url.Values, id, secret string) (reply, error) {
	return h.tryPostURL(h.srv.URL, form, id, secret)
}

func (h *harness) tryPostURL(base string, form url.Values, id, secret string) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return tryDo(req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	r, err := tryDo(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryDo sends req and decodes the answer; a transport failure, a body
// that is not JSON and a 5xx are errors.
func tryDo(req *http.Request) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("status %d, reading the body: %w", resp.StatusCode, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return r, fmt.Errorf("status %d, body not JSON: %q", resp.StatusCode, raw)
	}
	if resp.StatusCode >= 500 {
		return r, fmt.Errorf("server error %d: %s", resp.StatusCode, raw)
	}
	return r, nil
}

// accessJTI verifies an access token with the harness's issuer and returns
// its jti.
func (h *harness) accessJTI(t *testing.T, access string) string {
	t.Helper()
	claims, err := h.issuer.Verify(access)
	if err != nil {
		t.Fatalf("verify the access token: %v", err)
	}
	if claims.ID == "" {
		t.Fatal("access token without a jti")
	}
	return claims.ID
}

// wantDenied asserts the access token's jti is on the deny list.
func (h *harness) wantDenied(t *testing.T, what, access string) {
	t.Helper()
	jti := h.accessJTI(t, access)
	denied, err := h.store.IsDenied(context.Background(), jti)
	if err != nil {
		t.Fatalf("IsDenied(%s): %v", jti, err)
	}
	if !denied {
		t.Fatalf("%s: access token %s is not denied", what, jti)
	}
}

// wantError asserts an RFC 6749 §5.2 error answer.
func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %v, want %d %s", r.status, r.body, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("error answer without Cache-Control: no-store: %v", r.header)
	}
	if status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

func wantToken(t *testing.T, r reply) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("token_type") != "Bearer" {
		t.Fatalf("want a token, got %d %v", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("token answer without Cache-Control: no-store")
	}
}

// fakeClock is a clock the test moves; safe to read from the server's
// goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
