package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"authserver/server"
)

func metadataOf(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func status(h http.Handler, method, path string) int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Revocation and introspection are advertised exactly when they are
// served.
func TestMetadataRevocationIntrospection(t *testing.T) {
	served := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	base := server.Options{Issuer: "https://as.test", Token: served, JWKS: func() []byte { return []byte(`{"keys":[]}`) }}

	with := base
	with.Revocation, with.Introspection = served, served
	h := server.NewPublic(with)
	m := metadataOf(t, h)
	for k, want := range map[string]any{
		"revocation_endpoint": "https://as.test/revoke", "introspection_endpoint": "https://as.test/introspect",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	methods := func(k string) []string {
		var out []string
		for _, v := range m[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := methods("revocation_endpoint_auth_methods_supported"); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}) {
		t.Errorf("revocation auth methods %v", got)
	}
	if got := methods("introspection_endpoint_auth_methods_supported"); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}) {
		t.Errorf("introspection auth methods %v", got)
	}
	if got := methods("token_endpoint_auth_methods_supported"); !slices.Contains(got, "private_key_jwt") {
		t.Errorf("token endpoint auth methods %v lack private_key_jwt", got)
	}
	// Asymmetric algorithms only: an HS* or none here would invite
	// assertions signed with a shared or no key.
	for _, k := range []string{"token_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_signing_alg_values_supported"} {
		if got := methods(k); !slices.Equal(got, []string{"RS256", "PS256", "ES256", "EdDSA"}) {
			t.Errorf("%s = %v", k, got)
		}
	}
	for _, p := range []string{"/revoke", "/introspect"} {
		if s := status(h, http.MethodPost, p); s != http.StatusTeapot {
			t.Errorf("POST %s: %d", p, s)
		}
		if s := status(h, http.MethodGet, p); s != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d, want 405", p, s)
		}
	}

	h = server.NewPublic(base)
	m = metadataOf(t, h)
	for k := range m {
		if strings.HasPrefix(k, "revocation") || strings.HasPrefix(k, "introspection") {
			t.Errorf("metadata without the endpoints lists %s", k)
		}
	}
	for _, p := range []string{"/revoke", "/introspect"} {
		if s := status(h, http.MethodPost, p); s != http.StatusNotFound {
			t.Errorf("POST %s without the endpoint: %d", p, s)
		}
	}
}

func TestPublicRequestID(t *testing.T) {
	h := server.NewPublic(server.Options{Issuer: "https://as.test", Token: http.NotFoundHandler(), JWKS: func() []byte { return nil }})
	for _, path := range []string{"/jwks", "/no-such-page"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-ID", "lb-42")
		h.ServeHTTP(rec, req)
		if rec.Header().Get("X-Request-ID") != "lb-42" {
			t.Errorf("%s: X-Request-ID %q", path, rec.Header().Get("X-Request-ID"))
		}
	}
}
