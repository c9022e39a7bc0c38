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
	"slices"
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
	"authserver/sessions"
	"authserver/store/embedded"
)

const issuerURL = "https://issuer.test"

type fakeClients map[string]*clients.Client

func (f fakeClients) Lookup(_ context.Context, id string) (*clients.Client, error) {
	if c, ok := f[id]; ok {
		return c, nil
	}
	return nil, clients.ErrAuthenticationFailed
}

// fakeSessions holds the session-client records of users.
type fakeSessions struct {
	mu      sync.Mutex
	records map[string][]sessions.SessionClient
	// afterList runs once the records are listed: a sign-in landing
	// between the listing and the forgetting.
	afterList func()
}

func newSessions(user string, scs ...sessions.SessionClient) *fakeSessions {
	return &fakeSessions{records: map[string][]sessions.SessionClient{user: scs}}
}

func (f *fakeSessions) SessionClients(_ context.Context, userID string) ([]sessions.SessionClient, error) {
	f.mu.Lock()
	out := slices.Clone(f.records[userID])
	f.mu.Unlock()
	if f.afterList != nil {
		f.afterList()
	}
	return out, nil
}

func (f *fakeSessions) DeleteSessionClients(_ context.Context, userID string, scs []sessions.SessionClient) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records[userID] = slices.DeleteFunc(f.records[userID], func(sc sessions.SessionClient) bool { return slices.Contains(scs, sc) })
	return nil
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

func start(t *testing.T, cfg backchannel.Config, ks *keys.Set, c fakeClients, f *fakeSessions) *backchannel.Notifier {
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
// §2.4, with the session's sid; only the clients that session signed in to
// are told, and its records are forgotten.
func TestLogoutTokenDelivered(t *testing.T) {
	ks := newKeys(t)
	rp := newReceiver(t, http.StatusOK)
	cs := fakeClients{
		"rp":    {ID: "rp", IDTokenAlg: "EdDSA", BackchannelLogoutURI: rp.srv.URL + "/bcl"},
		"quiet": {ID: "quiet"},
	}
	ss := newSessions("u1", sessions.SessionClient{SessionID: "s1", ClientID: "rp"}, sessions.SessionClient{SessionID: "s1", ClientID: "quiet"},
		sessions.SessionClient{SessionID: "s2", ClientID: "rp"})
	n := start(t, backchannel.Config{}, ks, cs, ss)
	n.SessionEnded(context.Background(), "u1", "s1")
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
	if c["iss"] != issuerURL || c["aud"] != "rp" || c["sub"] != "u1" || c["sid"] != "s1" || c["jti"] == "" || exp <= iat || exp-iat > 300 {
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
		t.Fatalf("%d deliveries for one session's client, want 1 (s2 is still signed in)", h)
	}
	if left, _ := ss.SessionClients(context.Background(), "u1"); len(left) != 1 || left[0].SessionID != "s2" {
		t.Fatalf("records left %v, want s2's alone", left)
	}
}

// When every session of a user ends, each session's clients get a token
// with its sid, and the clients that held a family without a session one
// with sub alone, unless they require a sid.
func TestUserSignedOutTellsEverySession(t *testing.T) {
	rp, pw, strict := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	cs := fakeClients{
		"rp":     {ID: "rp", BackchannelLogoutURI: rp.srv.URL},
		"pw":     {ID: "pw", BackchannelLogoutURI: pw.srv.URL},
		"strict": {ID: "strict", BackchannelLogoutURI: strict.srv.URL, BackchannelLogoutSessionRequired: true},
	}
	ss := newSessions("u1", sessions.SessionClient{SessionID: "s1", ClientID: "rp"}, sessions.SessionClient{SessionID: "s2", ClientID: "rp"})
	ks := newKeys(t)
	n := start(t, backchannel.Config{}, ks, cs, ss)
	n.UserSignedOut(context.Background(), "u1", []string{"rp", "pw", "strict"})
	rp.waitHits(t, 2, 2*time.Second)
	pw.waitHits(t, 1, 2*time.Second)
	time.Sleep(100 * time.Millisecond)
	if rp.hits.Load() != 2 || pw.hits.Load() != 1 || strict.hits.Load() != 0 {
		t.Fatalf("deliveries rp %d (want 2), pw %d (want 1), strict %d (want 0)", rp.hits.Load(), pw.hits.Load(), strict.hits.Load())
	}
	sids := []string{claimsOf(t, rp.token(0))["sid"].(string), claimsOf(t, rp.token(1))["sid"].(string)}
	slices.Sort(sids)
	if !slices.Equal(sids, []string{"s1", "s2"}) {
		t.Fatalf("rp's sids %v", sids)
	}
	if c := claimsOf(t, pw.token(0)); c["sub"] != "u1" || c["sid"] != nil {
		t.Fatalf("pw's logout token %v: want sub alone", c)
	}
	if left, _ := ss.SessionClients(context.Background(), "u1"); len(left) != 0 {
		t.Fatalf("records left %v", left)
	}
}

// A session that signs in while every other session of its user is being
// signed out keeps its record: only what was listed and told is forgotten.
func TestSignInDuringSignOutKeepsItsRecord(t *testing.T) {
	rp := newReceiver(t, http.StatusOK)
	cs := fakeClients{"rp": {ID: "rp", BackchannelLogoutURI: rp.srv.URL}}
	ss := newSessions("u1", sessions.SessionClient{SessionID: "old", ClientID: "rp"})
	fresh := sessions.SessionClient{SessionID: "new", ClientID: "rp"}
	ss.afterList = func() {
		ss.afterList = nil
		ss.mu.Lock()
		ss.records["u1"] = append(ss.records["u1"], fresh)
		ss.mu.Unlock()
	}
	n := start(t, backchannel.Config{}, newKeys(t), cs, ss)
	n.UserSignedOut(context.Background(), "u1", nil)
	rp.waitHits(t, 1, 2*time.Second)
	if left, _ := ss.SessionClients(context.Background(), "u1"); !slices.Equal(left, []sessions.SessionClient{fresh}) {
		t.Fatalf("records left %v, want the new session's alone", left)
	}
	if c := claimsOf(t, rp.token(0)); c["sid"] != "old" {
		t.Fatalf("told about sid %v, want old", c["sid"])
	}
}

// claimsOf decodes a JWT's payload without checking it.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// A failing receiver is tried Attempts times with backoff, then given up;
// UserSignedOut itself returns at once.
func TestFailingReceiverRetriedThenGivenUp(t *testing.T) {
	rp := newReceiver(t, http.StatusInternalServerError)
	cs := fakeClients{"rp": {ID: "rp", IDTokenAlg: "ES256", BackchannelLogoutURI: rp.srv.URL}}
	n := start(t, backchannel.Config{Attempts: 3, Backoff: 20 * time.Millisecond, Timeout: time.Second}, newKeys(t), cs, newSessions("u1"))
	began := time.Now()
	n.UserSignedOut(context.Background(), "u1", []string{"rp"})
	if d := time.Since(began); d > 100*time.Millisecond {
		t.Fatalf("UserSignedOut took %v: delivery must not block the caller", d)
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
	n := backchannel.New(cfg, grants.NewIssuer(issuerURL, nil, newKeys(t)), cs, newSessions("u1"), slog.New(slog.NewTextHandler(logs, nil)))
	n.Start()
	t.Cleanup(n.Close)
	n.UserSignedOut(context.Background(), "u1", []string{"rp"})
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
