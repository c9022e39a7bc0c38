package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/clients"
	"authserver/grants"
	"authserver/keys"
	"authserver/ratelimit"
	"authserver/registration"
	"authserver/server"
	"authserver/store/embedded"
	"authserver/tokens"
)

// regStack is the public engine with /token and /register over a real
// embedded store.
type regStack struct {
	store   *embedded.Store
	clients *clients.Registry
	svc     *registration.Service
	issuer  *grants.Issuer
	srv     *httptest.Server
}

func newRegStack(t testing.TB, cfg registration.Config) *regStack {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, []byte("test key encryption secret"), "ES256", keys.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := clients.NewRegistry(st, []string{"profile", "invoices:read"})
	cfg.Issuer = srv.URL
	if cfg.AllowedGrantTypes == nil {
		cfg.AllowedGrantTypes = clients.KnownGrantTypes
	}
	s := &regStack{store: st, clients: reg, svc: registration.New(cfg, reg, st, tokens.NewRevoker(st, nil, reg, time.Minute, 15*time.Minute, log), log), srv: srv,
		issuer: grants.NewIssuer(srv.URL, []string{"https://api.test"}, km)}
	token := grants.NewEndpoint(grants.Config{
		AccessTTL: 15 * time.Minute, RefreshIdleTTL: time.Hour, RefreshAbsoluteTTL: 2 * time.Hour,
		CodeTTL: time.Minute, RequirePKCEConfidential: true, MaxBodyBytes: 64 << 10,
	}, grants.Deps{
		Clients: reg, Families: st, Codes: st, Deny: st, Limiter: ratelimit.New(st), Issuer: s.issuer, Audit: log,
		Revoker: tokens.NewRevoker(st, nil, reg, time.Minute, 15*time.Minute, log), Chain: testChain,
	})
	handler = server.NewPublic(server.Options{
		Issuer: srv.URL, Scopes: []string{"profile"}, Token: token, JWKS: km.JWKS, Log: log,
		Registration: server.NewRegistration(s.svc, 4096, log),
	})
	return s
}

func (s *regStack) iat(t testing.TB, uses int64) string {
	t.Helper()
	tok, _, err := s.svc.IssueInitialAccessToken(context.Background(), time.Hour, uses)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a request with a raw body (nil: none) and bearer token ("":
// no Authorization header).
func (s *regStack) call(t *testing.T, method, path, token string, body []byte) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: %d, not a JSON object: %q", method, path, resp.StatusCode, raw)
		}
	}
	return a
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (a answer) want(t *testing.T, status int, code string) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	if code != "" && a.body["error"] != code {
		t.Fatalf("error %v, want %s: %s", a.body["error"], code, a.raw)
	}
	if code != "" && a.body["error_description"] == "" {
		t.Fatalf("no error_description: %s", a.raw)
	}
	return a
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

var machineMD = map[string]any{
	"client_name": "billing", "grant_types": []string{"client_credentials"}, "scope": "invoices:read",
	"software_id": "billing-sync", "contacts": []string{"ops@partner.example"}, "jwks_uri": "https://ignored.example/jwks",
}

// A partner registers over plain HTTP and gets tokens at once with
// golang.org/x/oauth2, by the authentication method it registered.
func TestRegisterThenToken(t *testing.T) {
	s := newRegStack(t, registration.Config{})
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		md := map[string]any{}
		for k, v := range machineMD {
			md[k] = v
		}
		md["token_endpoint_auth_method"] = method
		a := s.call(t, http.MethodPost, "/register", s.iat(t, 1), mustJSON(md)).want(t, http.StatusCreated, "")
		if a.header.Get("Cache-Control") != "no-store" || a.header.Get("Pragma") != "no-cache" ||
			!strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Fatalf("headers %v", a.header)
		}
		id, secret := str(a.body, "client_id"), str(a.body, "client_secret")
		if id == "" || secret == "" || str(a.body, "registration_access_token") == "" ||
			str(a.body, "registration_client_uri") != s.srv.URL+"/register/"+id ||
			a.body["client_secret_expires_at"] != float64(0) || a.body["client_id_issued_at"] == nil ||
			str(a.body, "token_endpoint_auth_method") != method || str(a.body, "software_id") != "billing-sync" {
			t.Fatalf("registration answer %s", a.raw)
		}
		// Unknown metadata is ignored, not stored or echoed.
		if _, ok := a.body["jwks_uri"]; ok {
			t.Fatalf("unknown metadata echoed: %s", a.raw)
		}
		style := oauth2.AuthStyleInHeader
		if method == "client_secret_post" {
			style = oauth2.AuthStyleInParams
		}
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.srv.URL + "/token", AuthStyle: style}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("%s: token for the registered client: %v", method, err)
		}
		claims, err := s.issuer.Verify(tok.AccessToken)
		if err != nil || claims.Subject != id || claims.Scope != "invoices:read" {
			t.Fatalf("%s: claims %+v, %v", method, claims, err)
		}
		// ... and only the scopes it registered.
		cc.Scopes = []string{"profile"}
		if _, err := cc.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
			t.Fatalf("a scope the client did not register: %v", err)
		}
	}
}

func TestRegisterUnauthorized(t *testing.T) {
	s := newRegStack(t, registration.Config{})
	body := mustJSON(machineMD)

	a := s.call(t, http.MethodPost, "/register", "", body).want(t, http.StatusUnauthorized, "invalid_token")
	if got := a.header.Get("WWW-Authenticate"); got != `Bearer realm="authserver"` {
		t.Fatalf("WWW-Authenticate without a token: %q", got)
	}
	a = s.call(t, http.MethodPost, "/register", "forged", body).want(t, http.StatusUnauthorized, "invalid_token")
	if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate with a bad token: %q", got)
	}
	// A bad token is 401 whatever the body.
	s.call(t, http.MethodPost, "/register", "forged", []byte("{not json")).want(t, http.StatusUnauthorized, "invalid_token")
	s.call(t, http.MethodPost, "/register", "", []byte(`{"redirect_uris":["http://evil.example"]}`)).want(t, http.StatusUnauthorized, "invalid_token")
	// Basic credentials are not an initial access token.
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/register", bytes.NewReader(body))
	req.SetBasicAuth("a", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Basic auth: %d", resp.StatusCode)
	}
	// An exhausted token.
	tok := s.iat(t, 1)
	s.call(t, http.MethodPost, "/register", tok, body).want(t, http.StatusCreated, "")
	s.call(t, http.MethodPost, "/register", tok, body).want(t, http.StatusUnauthorized, "invalid_token")
	if l, _ := s.clients.List(context.Background()); len(l) != 1 {
		t.Fatalf("%d clients, want 1", len(l))
	}
}

func TestRegisterBadRequests(t *testing.T) {
	s := newRegStack(t, registration.Config{})
	tok := s.iat(t, 1)
	for _, c := range []struct {
		name, body string
		status     int
		code, desc string
	}{
		{"malformed", `{"client_name":`, 400, "invalid_client_metadata", "malformed JSON"},
		{"not an object", `["client_credentials"]`, 400, "invalid_client_metadata", "JSON object"},
		{"null", `null`, 400, "invalid_client_metadata", "JSON object"},
		{"empty", ``, 400, "invalid_client_metadata", "JSON object"},
		{"trailing", `{"grant_types":["client_credentials"]} {}`, 400, "invalid_client_metadata", "single JSON object"},
		{"string for list", `{"redirect_uris":"https://app.example/cb"}`, 400, "invalid_client_metadata", "redirect_uris: expected an array"},
		{"list for string", `{"scope":["profile"]}`, 400, "invalid_client_metadata", "scope: expected a string"},
		{"number in list", `{"grant_types":[1]}`, 400, "invalid_client_metadata", "grant_types"},
		{"bad redirect", `{"redirect_uris":["https://app.example/cb#frag"]}`, 400, "invalid_redirect_uri", "fragment"},
		{"unknown scope", `{"grant_types":["client_credentials"],"scope":"admin"}`, 400, "invalid_client_metadata", "admin"},
		{"pairwise two hosts", `{"redirect_uris":["https://app.example/cb","https://other.example/cb"],"subject_type":"pairwise"}`, 400, "invalid_client_metadata", "redirect_uris on one host"},
		{"sector identifier", `{"redirect_uris":["https://app.example/cb"],"sector_identifier_uri":"https://app.example/s.json"}`, 400, "invalid_client_metadata", "sector_identifier_uri is only for subject_type pairwise"},
		{"sector identifier unfetchable", `{"redirect_uris":["https://app.example/cb"],"subject_type":"pairwise","sector_identifier_uri":"https://app.example/s.json"}`, 400, "invalid_client_metadata", "sector_identifier_uri"},
		{"signed userinfo", `{"redirect_uris":["https://app.example/cb"],"userinfo_signed_response_alg":"RS256"}`, 400, "invalid_client_metadata", "userinfo_signed_response_alg"},
		{"request uris", `{"redirect_uris":["https://app.example/cb"],"request_uris":["https://app.example/r"]}`, 400, "invalid_client_metadata", "request_uris"},
		{"too large", `{"client_name":"` + strings.Repeat("x", 5000) + `"}`, 413, "invalid_client_metadata", "exceeds 4096 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := s.call(t, http.MethodPost, "/register", tok, []byte(c.body)).want(t, c.status, c.code)
			if !strings.Contains(str(a.body, "error_description"), c.desc) || a.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("answer %s, %v", a.raw, a.header)
			}
		})
	}
	// None of them spent the token.
	s.call(t, http.MethodPost, "/register", tok, mustJSON(machineMD)).want(t, http.StatusCreated, "")

	s.call(t, http.MethodGet, "/register", "", nil).want(t, http.StatusMethodNotAllowed, "")
	s.call(t, http.MethodPatch, "/register/x", "", nil).want(t, http.StatusMethodNotAllowed, "")
}

func TestRegisterOpen(t *testing.T) {
	s := newRegStack(t, registration.Config{Open: true, AllowedGrantTypes: []string{"client_credentials"}})
	s.call(t, http.MethodPost, "/register", "", mustJSON(machineMD)).want(t, http.StatusCreated, "")
	s.call(t, http.MethodPost, "/register", "forged", mustJSON(machineMD)).want(t, http.StatusUnauthorized, "invalid_token")
	// The grant policy holds on an open server too.
	a := s.call(t, http.MethodPost, "/register", "", []byte(`{"grant_types":["password"]}`)).want(t, http.StatusBadRequest, "invalid_client_metadata")
	if !strings.Contains(str(a.body, "error_description"), "not available") {
		t.Fatalf("policy refusal: %s", a.raw)
	}
}

// RFC 7592: read, update and delete with the registration access token;
// another client's token is refused.
func TestRegistrationManagement(t *testing.T) {
	s := newRegStack(t, registration.Config{})
	web := map[string]any{
		"client_name": "Viewer", "redirect_uris": []string{"https://app.example/cb"},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "profile",
	}
	a := s.call(t, http.MethodPost, "/register", s.iat(t, 1), mustJSON(web)).want(t, http.StatusCreated, "").body
	b := s.call(t, http.MethodPost, "/register", s.iat(t, 1), mustJSON(machineMD)).want(t, http.StatusCreated, "").body
	path := "/register/" + str(a, "client_id")
	aTok, bTok := str(a, "registration_access_token"), str(b, "registration_access_token")

	got := s.call(t, http.MethodGet, path, aTok, nil).want(t, http.StatusOK, "")
	if str(got.body, "client_id") != str(a, "client_id") || str(got.body, "client_name") != "Viewer" ||
		str(got.body, "registration_access_token") != aTok || got.body["client_secret"] != nil ||
		got.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("read: %s", got.raw)
	}

	// Another client's token, no token, a garbage ID: 401 on every method.
	for _, c := range []struct{ path, tok string }{
		{path, bTok}, {path, ""}, {"/register/" + strings.Repeat("x", 300), aTok}, {"/register/%00", aTok},
	} {
		s.call(t, http.MethodGet, c.path, c.tok, nil).want(t, http.StatusUnauthorized, "invalid_token")
		s.call(t, http.MethodPut, c.path, c.tok, []byte("{garbage")).want(t, http.StatusUnauthorized, "invalid_token")
		s.call(t, http.MethodDelete, c.path, c.tok, nil).want(t, http.StatusUnauthorized, "invalid_token")
	}

	// Update: the body replaces the metadata.
	upd := map[string]any{
		"client_id": str(a, "client_id"), "client_secret": str(a, "client_secret"), "client_name": "Viewer 2",
		"redirect_uris": []string{"https://app.example/cb2"}, "grant_types": []string{"authorization_code"},
	}
	u := s.call(t, http.MethodPut, path, aTok, mustJSON(upd)).want(t, http.StatusOK, "")
	if str(u.body, "client_name") != "Viewer 2" || u.body["scope"] != nil || str(u.body, "registration_access_token") != aTok {
		t.Fatalf("update: %s", u.raw)
	}
	s.call(t, http.MethodPut, path, aTok, []byte("{garbage")).want(t, http.StatusBadRequest, "invalid_client_metadata")
	upd["registration_client_uri"] = s.srv.URL + path
	s.call(t, http.MethodPut, path, aTok, mustJSON(upd)).want(t, http.StatusBadRequest, "invalid_client_metadata")
	delete(upd, "registration_client_uri")
	upd["redirect_uris"] = []string{"http://evil.example/cb"}
	s.call(t, http.MethodPut, path, aTok, mustJSON(upd)).want(t, http.StatusBadRequest, "invalid_redirect_uri")

	// Delete: 204, then the token and the client's secret are dead.
	del := s.call(t, http.MethodDelete, path, aTok, nil).want(t, http.StatusNoContent, "")
	if del.raw != "" {
		t.Fatalf("delete answered %q", del.raw)
	}
	s.call(t, http.MethodGet, path, aTok, nil).want(t, http.StatusUnauthorized, "invalid_token")
	if _, err := s.clients.Authenticate(context.Background(), str(a, "client_id"), str(a, "client_secret")); err == nil {
		t.Fatal("a deleted client still authenticates")
	}
	s.call(t, http.MethodGet, "/register/"+str(b, "client_id"), bTok, nil).want(t, http.StatusOK, "")
}

func TestMetadataAdvertisesRegistration(t *testing.T) {
	s := newRegStack(t, registration.Config{})
	a := s.call(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil).want(t, http.StatusOK, "")
	if str(a.body, "registration_endpoint") != s.srv.URL+"/register" {
		t.Fatalf("metadata: %s", a.raw)
	}
	// Without the handler, neither the endpoint nor its metadata exist.
	h := server.NewPublic(server.Options{Issuer: "https://x.test", Token: http.NotFoundHandler(), JWKS: func() []byte { return nil }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	if strings.Contains(rec.Body.String(), "registration_endpoint") {
		t.Fatalf("metadata without /register: %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/register", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("POST /register without the handler: %d", rec.Code)
	}
}

// No body, token or path makes the registration endpoints answer 5xx.
func TestRegisterNeverFails5xx(t *testing.T) {
	s := newRegStack(t, registration.Config{})
	reg := s.call(t, http.MethodPost, "/register", s.iat(t, 1), mustJSON(machineMD)).want(t, http.StatusCreated, "").body
	id, regTok := str(reg, "client_id"), str(reg, "registration_access_token")
	tok := s.iat(t, 1000)
	bodies := []string{
		`{}`, `{"redirect_uris":null}`, `{"redirect_uris":[null]}`, `{"redirect_uris":[""]}`, `{"grant_types":[]}`,
		`{"response_types":[]}`, `{"grant_types":{"a":1}}`, `{"scope":1e999}`, `{"client_name":"\ud800"}`,
		`{"contacts":[{}]}`, `{"client_id":"x","client_secret":null}`, `{"client_secret":5}`, `{"client_id":["x"]}`,
		`{"redirect_uris":["https://[::1"]}`, `{"redirect_uris":["https://%zz"]}`, `{"token_endpoint_auth_method":null}`,
		`{"a":` + strings.Repeat("[", 3000) + `}`, "\xff\xfe{", `{"logo_uri":"http://[fe80::1%en0]/"}`,
		`{"grant_types":["authorization_code"],"redirect_uris":["http://localhost:0/"],"response_types":["code","code"]}`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		bodies = append(bodies, "{"+string(b))
	}
	for _, body := range bodies {
		for _, c := range []struct{ method, path, tok string }{
			{http.MethodPost, "/register", tok}, {http.MethodPost, "/register", ""},
			{http.MethodPut, "/register/" + id, regTok}, {http.MethodPut, "/register/" + id, "x"},
		} {
			req, _ := http.NewRequest(c.method, s.srv.URL+c.path, strings.NewReader(body))
			if c.tok != "" {
				req.Header.Set("Authorization", "Bearer "+c.tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 || (resp.StatusCode >= 400 && !json.Valid(raw)) {
				t.Fatalf("%s %s %q: %d %s", c.method, c.path, body, resp.StatusCode, raw)
			}
		}
	}
	for _, hdr := range []string{"Bearer", "Bearer ", "bearer " + tok, "Bearer \x01", "Bearer " + strings.Repeat("a", 8000), "Negotiate x"} {
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/register", strings.NewReader(`{}`))
		req.Header.Set("Authorization", hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // the client refused to send it
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("Authorization %q: %d", hdr, resp.StatusCode)
		}
	}
}

// FuzzRegister: whatever the body, POST /register answers 201 or a 4xx
// JSON error, never 5xx. Plain go test runs the seeds.
func FuzzRegister(f *testing.F) {
	s := newRegStack(f, registration.Config{})
	tok := s.iat(f, registration.MaxTokenUses)
	for _, seed := range []string{
		string(mustJSON(machineMD)), `{}`, `{"redirect_uris":["https://a.example/cb"],"response_types":["code"]}`,
		`{"grant_types":["authorization_code","refresh_token"],"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`,
		`{"scope":"profile profile","contacts":[""]}`, `[`, `{"client_name":1}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/register", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ok := resp.StatusCode == http.StatusCreated || (resp.StatusCode >= 400 && resp.StatusCode < 500)
		if !ok || !json.Valid(raw) {
			t.Fatalf("%q: %d %s", body, resp.StatusCode, raw)
		}
	})
}
