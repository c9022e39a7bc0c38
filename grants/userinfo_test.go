package grants_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
)

// TestUserInfoStoreOutage: a store that cannot answer is 503 with
// Retry-After, as on the other endpoints, never a 401 that would make the
// app drop a good token.
func TestUserInfoStoreOutage(t *testing.T) {
	h := newHarness(t)
	id, _ := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	u := h.user(t, "alice", "alice's long password")
	access, err := h.issuer.Mint(grants.Access{ClientID: id, UserID: u.ID, Scope: "openid", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.endpoint.UserInfoHandler())
	t.Cleanup(srv.Close)
	get := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("store up: %d", resp.StatusCode)
	}
	h.store.Close()
	if resp := get(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("store down: %d Retry-After %q WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate"))
	}
}

// TestUserInfoTokens: which tokens and headers /userinfo takes. Any
// audience the server issues is accepted; a deleted user's token, another
// issuer's, or an empty bearer is not.
func TestUserInfoTokens(t *testing.T) {
	h := newHarness(t)
	id, _ := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	u := h.user(t, "alice", "alice's long password")
	gone := h.user(t, "bob", "bob's long password")
	srv := httptest.NewServer(h.endpoint.UserInfoHandler())
	t.Cleanup(srv.Close)
	mint := func(userID string, aud ...string) string {
		tok, err := h.issuer.Mint(grants.Access{ClientID: id, UserID: userID, Audience: aud, Scope: "openid", IssuedAt: time.Now(), TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	other := grants.NewIssuer("https://other.test", []string{"https://api.test"}, h.keys)
	foreign, err := other.Mint(grants.Access{ClientID: id, UserID: u.ID, Scope: "openid", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	goneToken := mint(gone.ID)
	if err := h.users.Delete(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, authz string
		status      int
	}{
		{"default audience", "Bearer " + mint(u.ID), http.StatusOK},
		{"a client's own audience", "Bearer " + mint(u.ID, "https://invoices.example"), http.StatusOK},
		{"scheme in lower case", "bearer " + mint(u.ID), http.StatusOK},
		{"deleted user", "Bearer " + goneToken, http.StatusUnauthorized},
		{"another issuer", "Bearer " + foreign, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"no header", "", http.StatusUnauthorized},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if c.authz != "" {
			req.Header.Set("Authorization", c.authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		challenge := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != c.status || c.status == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer ") {
			t.Errorf("%s: %d %q, want %d", c.name, resp.StatusCode, challenge, c.status)
		}
	}
}
