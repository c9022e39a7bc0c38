package backchannel_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"authserver/backchannel"
	"authserver/clients"
	"authserver/fetcher"
	"authserver/grants"
	"authserver/keys"
	"authserver/store/embedded"
	"authserver/tokens"
)

const issuerURL = "https://issuer.test"

type fakeClients map[string]*clients.Client

func (f fakeClients) Lookup(_ context.Context, id string) (*clients.Client, error) {
	if c, ok := f[id]; ok {
		return c, nil
	}
	return nil, clients.ErrAuthenticationFailed
}

type fakeFamilies []tokens.Family

func (f fakeFamilies) ListUserFamilies(_ context.Context, userID string) ([]tokens.Family, error) {
	var out []tokens.Family
	for _, fam := range f {
		if fam.UserID == userID {
			out = append(out, fam)
		}
	}
	return out, nil
}

// receiver is a relying party's back-channel logout endpoint answering
// status, recording the logout tokens it gets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
	hits   atomic.Int32
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		req.ParseForm()
		r.mu.Lock()
		r.tokens = append(r.tokens, req.PostForm.Get("logout_token"))
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) token(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tokens[i]
}

func (r *receiver) waitHits(t *testing.T, n int32, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for r.hits.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries within %v, want %d", r.hits.Load(), within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newKeys(t *testing.T) *keys.Set {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ks, err := keys.NewSet(st, []byte("test key encryption secret"), "ES256", clients.IDTokenAlgs, keys.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ks
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, cfg backchannel.Config, ks *keys.Set, c fakeClients, f fakeFamilies) *backchannel.Notifier {
	t.Helper()
	loopback, err := fetcher.New(fetcher.Config{AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fetcher = loopback
	n := backchannel.New(cfg, grants.NewIssuer(issuerURL, nil, ks), c, f, quiet())
	n.Start()
	t.Cleanup(n.Close)
	return n
}

// The logout token verifies against the published JWKS with the client's
// ID Token alg and carries exactly the claims of Back-Channel Logout 1.0
// §2.4; clients are found from the user's families.
func TestLogoutTokenDelivered(t *testing.T) {
	ks := newKeys(t)
	rp := newReceiver(t, http.StatusOK)
	cs := fakeClients{
		"rp":    {ID: "rp", IDTokenAlg: "EdDSA", BackchannelLogoutURI: rp.srv.URL + "/bcl"},
		"quiet": {ID: "quiet"},
	}
	n := start(t, backchannel.Config{}, ks, cs, fakeFamilies{{ClientID: "rp", UserID: "u1"}, {ClientID: "quiet", UserID: "u1"}, {ClientID: "rp", UserID: "u1"}})
	n.SignedOut(context.Background(), "u1", nil)
	rp.waitHits(t, 1, 2*time.Second)

	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(ks.JWKS()) }))
	defer jwks.Close()
	raw := rp.token(0)
	payload, err := oidc.NewRemoteKeySet(context.Background(), jwks.URL).VerifySignature(context.Background(), raw)
	if err != nil {
		t.Fatalf("logout token does not verify against the JWKS: %v", err)
	}
	var header map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	json.Unmarshal(hb, &header)
	if header["typ"] != "logout+jwt" || header["alg"] != "EdDSA" {
		t.Fatalf("header %v", header)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	iat, exp := c["iat"].(float64), c["exp"].(float64)
	events, _ := c["events"].(map[string]any)
	if c["iss"] != issuerURL || c["aud"] != "rp" || c["sub"] != "u1" || c["jti"] == "" || exp <= iat || exp-iat > 300 {
		t.Fatalf("claims %v", c)
	}
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(events) != 1 {
		t.Fatalf("events %v", c["events"])
	}
	if _, ok := c["nonce"]; ok {
		t.Fatal("a logout token must not carry a nonce")
	}
	time.Sleep(50 * time.Millisecond)
	if h := rp.hits.Load(); h != 1 {
		t.Fatalf("%d deliveries for one client, want 1", h)
	}
}

// A failing receiver is tried Attempts times with backoff, then given up;
// SignedOut itself returns at once.
func TestFailingReceiverRetriedThenGivenUp(t *testing.T) {
	rp := newReceiver(t, http.StatusInternalServerError)
	cs := fakeClients{"rp": {ID: "rp", IDTokenAlg: "ES256", BackchannelLogoutURI: rp.srv.URL}}
	n := start(t, backchannel.Config{Attempts: 3, Backoff: 20 * time.Millisecond, Timeout: time.Second}, newKeys(t), cs, nil)
	began := time.Now()
	n.SignedOut(context.Background(), "u1", []string{"rp"})
	if d := time.Since(began); d > 100*time.Millisecond {
		t.Fatalf("SignedOut took %v: delivery must not block the caller", d)
	}
	rp.waitHits(t, 3, 2*time.Second)
	time.Sleep(200 * time.Millisecond)
	if h := rp.hits.Load(); h != 3 {
		t.Fatalf("%d attempts, want 3", h)
	}
}

// Without the loopback allowance the fetcher refuses the receiver's
// address before connecting, and the refusal is not retried.
func TestForbiddenReceiverNotRetried(t *testing.T) {
	var hits atomic.Int32
	rp := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer rp.Close()
	cs := fakeClients{"rp": {ID: "rp", IDTokenAlg: "ES256", BackchannelLogoutURI: rp.URL}}
	logs := &syncBuffer{}
	cfg := backchannel.Config{Attempts: 3, Backoff: time.Second, Timeout: time.Second}
	n := backchannel.New(cfg, grants.NewIssuer(issuerURL, nil, newKeys(t)), cs, nil, slog.New(slog.NewTextHandler(logs, nil)))
	n.Start()
	t.Cleanup(n.Close)
	n.SignedOut(context.Background(), "u1", []string{"rp"})
	deadline := time.Now().Add(500 * time.Millisecond) // well before the first backoff ends
	for !strings.Contains(logs.String(), "given up") {
		if time.Now().After(deadline) {
			t.Fatalf("not given up at once; log:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "address not allowed") || hits.Load() != 0 {
		t.Fatalf("%d hits; log:\n%s", hits.Load(), logs)
	}
}

// syncBuffer is a log sink the workers write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
