package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/clients"
	"authserver/keys"
	"authserver/resources"
	"authserver/server/admin"
	"authserver/store/embedded"
	"authserver/tokens"
	"authserver/users"
)

const testToken = "test-admin-token"

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no route listing on every engine
	os.Exit(m.Run())
}

type env struct {
	t       *testing.T
	h       http.Handler
	store   *embedded.Store
	clients *clients.Registry
	keys    *keys.Manager
	audit   *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, bytes.Repeat([]byte("k"), 32), "ES256", keys.Settings{
		PublishAhead: 6 * time.Minute, TokenLifetime: 15 * time.Minute, RetireMargin: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := clients.NewRegistry(st, []string{"read", "write"})
	audit := &bytes.Buffer{}
	us := users.NewService(st, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1})
	h := admin.New(admin.Options{
		Token:    testToken,
		Clients:  reg,
		Users:    us,
		Families: st,
		Revoker:  tokens.NewRevoker(st, us, reg, time.Minute, time.Minute, nil),
		Keys:     km,
		Audit:    slog.New(slog.NewJSONHandler(audit, nil)),
		Backup:   st,
		// A zero TTL: every read goes to the store.
		Resources: resources.NewRegistry(st, nil, 0, nil),
	})
	return &env{t: t, h: h, store: st, clients: reg, keys: km, audit: audit}
}

// do sends a request with the admin token; body is sent as is when it is a
// string, else marshalled.
func (e *env) do(method, path string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+testToken)
}

func (e *env) doAuth(method, path string, body any, authz string) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func expect(t *testing.T, rec *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", rec.Code, status, rec.Body)
	}
	if status == http.StatusNoContent {
		if rec.Body.Len() != 0 {
			t.Fatalf("204 with a body: %s", rec.Body)
		}
		return nil
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, rec.Body)
	}
	return m
}

// expectError checks a 4xx answer and its error code; field, when not
// empty, must be named by the answer.
func expectError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	m := expect(t, rec, status)
	if m["error"] != code {
		t.Errorf("error = %v, want %q (body %s)", m["error"], code, rec.Body)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("no error_description: %s", rec.Body)
	}
	if field != "" && m["field"] != field {
		t.Errorf("field = %v, want %q (body %s)", m["field"], field, rec.Body)
	}
}

func confidential() clients.Registration {
	return clients.Registration{Name: "backend", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}}
}

func (e *env) createClient(reg clients.Registration) (id, secret string) {
	e.t.Helper()
	m := expect(e.t, e.do("POST", "/admin/clients", reg), http.StatusCreated)
	id, _ = m["id"].(string)
	secret, _ = m["client_secret"].(string)
	if id == "" {
		e.t.Fatalf("created client has no id: %v", m)
	}
	return id, secret
}

func (e *env) createUser(username string) string {
	e.t.Helper()
	m := expect(e.t, e.do("POST", "/admin/users", map[string]string{"username": username, "password": "correct horse battery"}), http.StatusCreated)
	id, _ := m["id"].(string)
	if id == "" {
		e.t.Fatalf("created user has no id: %v", m)
	}
	return id
}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	routes := []struct{ method, path string }{
		{"POST", "/admin/clients"}, {"GET", "/admin/clients"}, {"GET", "/admin/clients/x"},
		{"DELETE", "/admin/clients/x"}, {"POST", "/admin/clients/x/secret"},
		{"POST", "/admin/clients/x/disable"}, {"POST", "/admin/clients/x/enable"},
		{"POST", "/admin/users"}, {"GET", "/admin/users"}, {"GET", "/admin/users/x"},
		{"DELETE", "/admin/users/x"}, {"PUT", "/admin/users/x/password"}, {"PATCH", "/admin/users/x/profile"},
		{"POST", "/admin/users/x/disable"}, {"POST", "/admin/users/x/enable"},
		{"GET", "/admin/users/x/families"}, {"DELETE", "/admin/users/x/families"},
		{"POST", "/admin/keys/rotate"}, {"GET", "/admin/backup"},
		// Unauthenticated callers cannot probe which routes exist.
		{"GET", "/admin/no-such-route"}, {"GET", "/admin/clients/"}, {"PATCH", "/admin/clients"},
	}
	for _, authz := range []string{"", "Bearer wrong-token", "Basic " + testToken, testToken, "Bearer ", "Bearer " + testToken + "x"} {
		for _, r := range routes {
			rec := e.doAuth(r.method, r.path, "{}", authz)
			expectError(t, rec, http.StatusUnauthorized, "unauthorized", "")
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %q: WWW-Authenticate = %q", r.method, r.path, authz, rec.Header().Get("WWW-Authenticate"))
			}
		}
	}
	if strings.Contains(e.audit.String(), "wrong-token") || !strings.Contains(e.audit.String(), `"event":"admin_auth_failed"`) {
		t.Errorf("rejections must be logged without the presented token:\n%s", e.audit)
	}
	// The scheme is case-insensitive (RFC 9110 §11.1).
	expect(t, e.doAuth("GET", "/admin/clients", nil, "bearer "+testToken), http.StatusOK)
	// Nothing may change without the token.
	list, err := e.clients.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("clients after unauthenticated creates: %d, %v", len(list), err)
	}
}

func TestEmptyTokenLetsNobodyIn(t *testing.T) {
	h := admin.New(admin.Options{})
	for _, authz := range []string{"", "Bearer ", "Bearer"} {
		req := httptest.NewRequest("GET", "/admin/clients", nil)
		req.Header.Set("Authorization", authz)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q with no configured token: status %d", authz, rec.Code)
		}
	}
}

func TestClientLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := confidential()
	reg.Audience = []string{"https://api.example.com"}
	id, secret := e.createClient(reg)
	if secret == "" {
		t.Fatal("confidential client created without a secret")
	}
	if _, err := e.clients.Authenticate(ctx, id, secret); err != nil {
		t.Fatalf("the returned secret does not authenticate: %v", err)
	}

	got := expect(t, e.do("GET", "/admin/clients/"+id, nil), http.StatusOK)
	if got["name"] != "backend" || got["token_endpoint_auth_method"] != "client_secret_basic" || got["disabled"] != false || got["id_token_signed_response_alg"] != "RS256" {
		t.Errorf("get: %v", got)
	}
	for _, k := range []string{"id", "name", "public", "token_endpoint_auth_method", "grant_types", "scopes", "redirect_uris", "audience", "first_party", "disabled", "created_at", "updated_at"} {
		if _, ok := got[k]; !ok {
			t.Errorf("client view lacks %q: %v", k, got)
		}
	}
	list := expect(t, e.do("GET", "/admin/clients", nil), http.StatusOK)
	if cl, _ := list["clients"].([]any); len(cl) != 1 || cl[0].(map[string]any)["id"] != id {
		t.Errorf("list: %v", list)
	}

	// Rotation with overlap: both secrets work until the overlap ends.
	rot := expect(t, e.do("POST", "/admin/clients/"+id+"/secret", map[string]string{"overlap": "1h"}), http.StatusOK)
	secret2, _ := rot["client_secret"].(string)
	if secret2 == "" || secret2 == secret {
		t.Fatalf("rotation gave secret %q", secret2)
	}
	if _, ok := rot["previous_secret_expires_at"]; !ok {
		t.Errorf("rotation with overlap does not say when the old secret ends: %v", rot)
	}
	for _, s := range []string{secret, secret2} {
		if _, err := e.clients.Authenticate(ctx, id, s); err != nil {
			t.Errorf("during overlap a secret fails: %v", err)
		}
	}
	// Rotation without a body: the old secret stops at once.
	rot = expect(t, e.do("POST", "/admin/clients/"+id+"/secret", nil), http.StatusOK)
	secret3, _ := rot["client_secret"].(string)
	if _, err := e.clients.Authenticate(ctx, id, secret2); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Errorf("old secret after rotation without overlap: %v", err)
	}
	if _, err := e.clients.Authenticate(ctx, id, secret3); err != nil {
		t.Errorf("new secret: %v", err)
	}

	dis := expect(t, e.do("POST", "/admin/clients/"+id+"/disable", nil), http.StatusOK)
	if dis["disabled"] != true {
		t.Errorf("disable: %v", dis)
	}
	if _, err := e.clients.Authenticate(ctx, id, secret3); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Errorf("disabled client authenticates: %v", err)
	}
	en := expect(t, e.do("POST", "/admin/clients/"+id+"/enable", nil), http.StatusOK)
	if en["disabled"] != false {
		t.Errorf("enable: %v", en)
	}
	if _, err := e.clients.Authenticate(ctx, id, secret3); err != nil {
		t.Errorf("re-enabled client: %v", err)
	}

	expect(t, e.do("DELETE", "/admin/clients/"+id, nil), http.StatusNoContent)
	expectError(t, e.do("GET", "/admin/clients/"+id, nil), http.StatusNotFound, "not_found", "")

	// Secrets appear in the create and rotate answers only: never in the
	// audit log.
	for _, s := range []string{secret, secret2, secret3} {
		if strings.Contains(e.audit.String(), s) {
			t.Fatal("a client secret reached the audit log")
		}
	}
	for _, action := range []string{"clients.create", "clients.rotate_secret", "clients.disable", "clients.enable", "clients.delete"} {
		if !strings.Contains(e.audit.String(), `"action":"`+action+`"`) || !strings.Contains(e.audit.String(), id) {
			t.Errorf("audit log lacks %s for %s:\n%s", action, id, e.audit)
		}
	}
}

func TestPublicClient(t *testing.T) {
	e := newEnv(t)
	m := expect(t, e.do("POST", "/admin/clients", clients.Registration{
		Name: "spa", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"read"}, RedirectURIs: []string{"https://app.example.com/cb"},
	}), http.StatusCreated)
	if _, ok := m["client_secret"]; ok {
		t.Errorf("public client got a secret: %v", m)
	}
	if m["token_endpoint_auth_method"] != "none" || m["public"] != true {
		t.Errorf("public client: %v", m)
	}
	expectError(t, e.do("POST", "/admin/clients/"+m["id"].(string)+"/secret", nil), http.StatusBadRequest, "invalid_request", "client")
}

func TestSecretsNeverListed(t *testing.T) {
	e := newEnv(t)
	id, secret := e.createClient(confidential())
	// Give the client a previous secret hash too.
	expect(t, e.do("POST", "/admin/clients/"+id+"/secret", map[string]string{"overlap": "1h"}), http.StatusOK)
	uid := e.createUser("alice")
	stored, err := e.store.GetUser(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/admin/clients", "/admin/clients/" + id, "/admin/users", "/admin/users/" + uid} {
		body := e.do("GET", path, nil).Body.String()
		for _, bad := range []string{`"client_secret"`, "hash", "password", secret, stored.PasswordHash} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s shows %q: %s", path, bad, body)
			}
		}
	}
	if strings.Contains(e.audit.String(), "correct horse") || strings.Contains(e.audit.String(), stored.PasswordHash) {
		t.Error("a password or its hash reached the audit log")
	}
}

func TestClientValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no name", clients.Registration{GrantTypes: []string{"client_credentials"}}, "name"},
		{"unknown grant", clients.Registration{Name: "x", GrantTypes: []string{"implicit"}}, "grant_types"},
		{"no grant", clients.Registration{Name: "x"}, "grant_types"},
		{"malformed scope", clients.Registration{Name: "x", GrantTypes: []string{"client_credentials"}, Scopes: []string{`bad"scope`}}, "scopes"},
		{"code without redirect", clients.Registration{Name: "x", GrantTypes: []string{"authorization_code"}}, "redirect_uris"},
		{"bad auth method", clients.Registration{Name: "x", GrantTypes: []string{"client_credentials"}, AuthMethod: "client_secret_jwt"}, "token_endpoint_auth_method"},
		{"bad ID Token alg", clients.Registration{Name: "x", GrantTypes: []string{"client_credentials"}, IDTokenAlg: "HS256"}, "id_token_signed_response_alg"},
		{"unknown subject type", clients.Registration{Name: "x", GrantTypes: []string{"client_credentials"}, SubjectType: "other"}, "subject_type"},
		{"pairwise on two hosts", clients.Registration{Name: "x", GrantTypes: []string{"authorization_code"}, SubjectType: "pairwise",
			RedirectURIs: []string{"https://a.example/cb", "https://b.example/cb"}}, "subject_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, e.do("POST", "/admin/clients", c.body), http.StatusBadRequest, "invalid_request", c.field)
		})
	}
	id, _ := e.createClient(confidential())
	for _, overlap := range []string{"banana", "-1h", "10000h"} {
		expectError(t, e.do("POST", "/admin/clients/"+id+"/secret", map[string]string{"overlap": overlap}), http.StatusBadRequest, "invalid_request", "overlap")
	}
}

func TestMalformedBodies(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser("bob")
	huge := `{"name":"` + strings.Repeat("a", admin.MaxBodyBytes) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"empty", "POST", "/admin/clients", "", 400},
		{"not JSON", "POST", "/admin/clients", "name=x", 400},
		{"truncated", "POST", "/admin/clients", `{"name":"x"`, 400},
		{"array", "POST", "/admin/clients", `["x"]`, 400},
		{"string", "POST", "/admin/users", `"x"`, 400},
		{"wrong type", "POST", "/admin/clients", `{"name":1}`, 400},
		{"unknown field", "POST", "/admin/clients", `{"name":"x","grant_types":["client_credentials"],"secret_hash":"AAAA"}`, 400},
		{"unknown user field", "POST", "/admin/users", `{"username":"x","password":"longenough1","admin":true}`, 400},
		{"trailing data", "POST", "/admin/users", `{"username":"x","password":"longenough1"} {}`, 400},
		{"oversized", "POST", "/admin/clients", huge, 413},
		{"oversized user", "POST", "/admin/users", huge, 413},
		{"oversized password", "PUT", "/admin/users/" + uid + "/password", `{"password":"` + strings.Repeat("p", admin.MaxBodyBytes) + `"}`, 413},
		{"missing password", "PUT", "/admin/users/" + uid + "/password", `{}`, 400},
		{"bad overlap type", "POST", "/admin/clients/x/secret", `{"overlap":3600}`, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code := "invalid_request"
			if c.status == 413 {
				code = "request_too_large"
			}
			expectError(t, e.do(c.method, c.path, c.body), c.status, code, "")
		})
	}
	// Without a Content-Length the cap must still hold.
	req := httptest.NewRequest("POST", "/admin/clients", io.MultiReader(strings.NewReader(huge)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	expectError(t, rec, http.StatusRequestEntityTooLarge, "request_too_large", "")

	if list, _ := e.clients.List(context.Background()); len(list) != 0 {
		t.Errorf("malformed requests created %d clients", len(list))
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 5000)
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/clients/nope"}, {"DELETE", "/admin/clients/nope"},
		{"POST", "/admin/clients/nope/secret"}, {"POST", "/admin/clients/nope/disable"},
		{"POST", "/admin/clients/nope/enable"}, {"GET", "/admin/users/nope"},
		{"DELETE", "/admin/users/nope"}, {"POST", "/admin/users/nope/disable"},
		{"POST", "/admin/users/nope/enable"}, {"GET", "/admin/clients/" + long},
		{"GET", "/admin/users/" + long}, {"GET", "/admin/no-such-route"}, {"GET", "/"},
		{"GET", "/admin/clients/"}, {"DELETE", "/admin/users/"},
	} {
		expectError(t, e.do(r.method, r.path, nil), http.StatusNotFound, "not_found", "")
	}
	expectError(t, e.do("PUT", "/admin/users/nope/password", map[string]string{"password": "a fine new password"}), http.StatusNotFound, "not_found", "")
	expectError(t, e.do("PATCH", "/admin/clients", nil), http.StatusMethodNotAllowed, "invalid_request", "")
}

func TestUserLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createUser("carol")

	expectError(t, e.do("POST", "/admin/users", map[string]string{"username": "carol", "password": "another password"}), http.StatusConflict, "conflict", "")
	expectError(t, e.do("POST", "/admin/users", map[string]string{"password": "some password"}), http.StatusBadRequest, "invalid_request", "username")

	got := expect(t, e.do("GET", "/admin/users/"+id, nil), http.StatusOK)
	if got["username"] != "carol" || got["disabled"] != false || got["id"] != id {
		t.Errorf("get: %v", got)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if _, ok := got[k]; !ok {
			t.Errorf("user view lacks %q", k)
		}
	}
	list := expect(t, e.do("GET", "/admin/users", nil), http.StatusOK)
	if us, _ := list["users"].([]any); len(us) != 1 || us[0].(map[string]any)["username"] != "carol" {
		t.Errorf("list: %v", list)
	}

	before, _ := e.store.GetUser(ctx, id)
	expect(t, e.do("PUT", "/admin/users/"+id+"/password", map[string]string{"password": "a brand new password"}), http.StatusNoContent)
	after, _ := e.store.GetUser(ctx, id)
	if after.PasswordHash == before.PasswordHash || after.PasswordHash == "" {
		t.Error("set-password did not change the stored hash")
	}
	expectError(t, e.do("PUT", "/admin/users/"+id+"/password", map[string]string{"password": ""}), http.StatusBadRequest, "invalid_request", "password")

	if m := expect(t, e.do("POST", "/admin/users/"+id+"/disable", nil), http.StatusOK); m["disabled"] != true {
		t.Errorf("disable: %v", m)
	}
	if u, _ := e.store.GetUser(ctx, id); !u.Disabled {
		t.Error("user not disabled in the store")
	}
	if m := expect(t, e.do("POST", "/admin/users/"+id+"/enable", nil), http.StatusOK); m["disabled"] != false {
		t.Errorf("enable: %v", m)
	}

	expect(t, e.do("DELETE", "/admin/users/"+id, nil), http.StatusNoContent)
	expectError(t, e.do("GET", "/admin/users/"+id, nil), http.StatusNotFound, "not_found", "")
	expectError(t, e.do("DELETE", "/admin/users/"+id, nil), http.StatusNotFound, "not_found", "")
	// The username is free again.
	e.createUser("carol")
	for _, action := range []string{"users.create", "users.set_password", "users.disable", "users.enable", "users.delete"} {
		if !strings.Contains(e.audit.String(), `"action":"`+action+`"`) {
			t.Errorf("audit log lacks %s", action)
		}
	}
}

// newFamily starts a refresh-token family for the user directly in the store.
func (e *env) newFamily(userID string) string {
	e.t.Helper()
	now := time.Now()
	f := tokens.Family{
		ID: tokens.NewFamilyID(), ClientID: "some-client", UserID: userID, Scope: "read",
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
	}
	_, hash := tokens.NewRefreshToken(f.ID)
	if err := e.store.CreateFamily(context.Background(), f, hash); err != nil {
		e.t.Fatal(err)
	}
	return f.ID
}

func (e *env) revoked(id string) bool {
	e.t.Helper()
	f, err := e.store.GetFamily(context.Background(), id)
	if err != nil {
		e.t.Fatalf("family %s: %v", id, err)
	}
	return f.Revoked
}

func TestUserChangesRevokeFamilies(t *testing.T) {
	cases := []struct {
		name   string
		method string
		suffix string
		body   any
		status int
	}{
		{"delete", "DELETE", "", nil, http.StatusNoContent},
		{"set password", "PUT", "/password", map[string]string{"password": "a brand new password"}, http.StatusNoContent},
		{"disable", "POST", "/disable", nil, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			victim, bystander := e.createUser("victim"), e.createUser("bystander")
			f1, f2, other := e.newFamily(victim), e.newFamily(victim), e.newFamily(bystander)

			rec := e.do(c.method, "/admin/users/"+victim+c.suffix, c.body)
			if rec.Code != c.status {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if !e.revoked(f1) || !e.revoked(f2) {
				t.Error("the user's refresh-token families are still live")
			}
			if e.revoked(other) {
				t.Error("another user's family was revoked")
			}
			if live, _ := e.store.ListUserFamilies(context.Background(), victim); len(live) != 0 {
				t.Errorf("%d live families left", len(live))
			}
			if !strings.Contains(e.audit.String(), `"families_revoked":2`) {
				t.Errorf("audit log does not count the revoked families:\n%s", e.audit)
			}
		})
	}

	t.Run("enable keeps families", func(t *testing.T) {
		e := newEnv(t)
		u := e.createUser("dave")
		f := e.newFamily(u)
		expect(t, e.do("POST", "/admin/users/"+u+"/enable", nil), http.StatusOK)
		if e.revoked(f) {
			t.Error("enabling a user revoked a family")
		}
	})
}

func TestKeysRotate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before, err := e.store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := expect(t, e.do("POST", "/admin/keys/rotate", nil), http.StatusOK)
	kid, _ := m["kid"].(string)
	if kid == "" {
		t.Fatalf("rotate: %v", m)
	}
	after, err := e.store.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 || after[len(after)-1].ID != kid {
		t.Errorf("keys before %d, after %d; want the new kid %s last", len(before), len(after), kid)
	}
	if !strings.Contains(e.audit.String(), kid) {
		t.Error("rotation not audited")
	}
}

type failingKeys struct{}

func (failingKeys) Rotate(context.Context, bool) (keys.KeyInfo, error) {
	return keys.KeyInfo{}, errors.New("disk on fire")
}

func (failingKeys) List(context.Context) ([]keys.KeyInfo, error) {
	return nil, errors.New("disk on fire")
}

func (failingKeys) Retire(context.Context, string, bool) (keys.KeyInfo, error) {
	return keys.KeyInfo{}, errors.New("disk on fire")
}

func TestStoreFailureIsOpaque500(t *testing.T) {
	audit := &bytes.Buffer{}
	h := admin.New(admin.Options{Token: testToken, Keys: failingKeys{}, Audit: slog.New(slog.NewTextHandler(audit, nil))})
	req := httptest.NewRequest("POST", "/admin/keys/rotate", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	expectError(t, rec, http.StatusInternalServerError, "server_error", "")
	if strings.Contains(rec.Body.String(), "disk on fire") {
		t.Error("internal error details reached the caller")
	}
	if !strings.Contains(audit.String(), "disk on fire") {
		t.Error("internal error not logged")
	}
}

func TestPanicIsJSON500(t *testing.T) {
	// No registry: the handler dereferences nil, as a bug would.
	h := admin.New(admin.Options{Token: testToken})
	req := httptest.NewRequest("GET", "/admin/clients", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	expectError(t, rec, http.StatusInternalServerError, "server_error", "")
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tok, created, err := admin.LoadOrCreateToken(dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not 32 bytes of base64url", tok)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, admin.TokenFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	again, created, err := admin.LoadOrCreateToken(dir)
	if err != nil || created || again != tok {
		t.Errorf("second call: %q created=%v err=%v; want the same token", again, created, err)
	}
	if read, err := admin.ReadToken(dir); err != nil || read != tok {
		t.Errorf("ReadToken = %q, %v", read, err)
	}

	// An operator-written token (with a trailing newline) is used as is.
	custom := t.TempDir()
	os.WriteFile(filepath.Join(custom, admin.TokenFile), []byte("my-own-token\n"), 0o600)
	if tok, created, err := admin.LoadOrCreateToken(custom); tok != "my-own-token" || created || err != nil {
		t.Errorf("custom token: %q %v %v", tok, created, err)
	}
	// An empty file is an error, not an empty token that would match "Bearer ".
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, admin.TokenFile), []byte("\n"), 0o600)
	if _, _, err := admin.LoadOrCreateToken(empty); err == nil {
		t.Error("empty token file accepted")
	}
}

// ?username= narrows the list to that user (matched in its normalized,
// lower-case form), or to none.
func TestFindUserByUsername(t *testing.T) {
	e := newEnv(t)
	alice := e.createUser("alice")
	e.createUser("bob")
	ids := func(path string) []string {
		t.Helper()
		m := expect(t, e.do("GET", path, nil), http.StatusOK)
		list, ok := m["users"].([]any)
		if !ok {
			t.Fatalf("%s: no users list: %v", path, m)
		}
		var out []string
		for _, u := range list {
			out = append(out, u.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := ids("/admin/users?username=ALICE"); len(got) != 1 || got[0] != alice {
		t.Errorf("?username=ALICE: %v, want [%s]", got, alice)
	}
	for _, q := range []string{"nobody", "", "%20"} {
		if got := ids("/admin/users?username=" + q); len(got) != 0 {
			t.Errorf("?username=%s: %v, want none", q, got)
		}
	}
	if got := ids("/admin/users"); len(got) != 2 {
		t.Errorf("no filter: %v, want both users", got)
	}
}
