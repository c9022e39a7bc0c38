package grants_test

import (
	"net/http"
	"net/http/httptest"
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
