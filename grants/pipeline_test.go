package grants_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"authserver/clients"
	"authserver/grants"
	"authserver/ratelimit"
	"authserver/users"
)

// countingUsers counts password checks: each Authenticate is one argon2id
// computation (users.TestFailuresCostOneHashEach).
type countingUsers struct {
	*users.Service
	checks atomic.Int64
}

func (c *countingUsers) Authenticate(ctx context.Context, username, password string) (*users.User, error) {
	c.checks.Add(1)
	return c.Service.Authenticate(ctx, username, password)
}

// The pipeline runs in the order the package doc states: a request that an
// earlier step refuses never reaches a later one, and the password hash,
// the costliest step, runs only for a request that passed everything else.
func TestPipelineOrder(t *testing.T) {
	h := newHarness(t)
	counted := &countingUsers{Service: h.users}
	e := grants.NewEndpoint(testConfig(), grants.Deps{
		Clients: h.clients, Users: counted, Families: h.store, Codes: h.store, Deny: h.store,
		Limiter: ratelimit.New(h.store), Issuer: h.issuer, Revoker: h.endpointRevoker(), Chain: testChain,
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	ccOnly, ccSecret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	h.user(t, "alice", "alice's password")

	for _, c := range []struct {
		name       string
		form       func() map[string][]string
		id, secret string
		status     int
		code       string
	}{
		{"scope before password", func() map[string][]string { return pwForm("alice", "wrong password", "scope", "admin") }, id, secret, http.StatusBadRequest, "invalid_scope"},
		{"malformed scope before password", func() map[string][]string { return pwForm("alice", "alice's password", "scope", "a\"b") }, id, secret, http.StatusBadRequest, "invalid_scope"},
		{"client before scope", func() map[string][]string { return pwForm("alice", "alice's password", "scope", "admin") }, id, "wrong", http.StatusUnauthorized, "invalid_client"},
		{"grant allowed before password", func() map[string][]string { return pwForm("alice", "alice's password") }, ccOnly, ccSecret, http.StatusBadRequest, "unauthorized_client"},
		{"client before grant type", func() map[string][]string { return map[string][]string{"grant_type": {"urn:x:unknown"}} }, id, "wrong", http.StatusUnauthorized, "invalid_client"},
		{"grant type served", func() map[string][]string { return map[string][]string{"grant_type": {"urn:x:unknown"}} }, id, secret, http.StatusBadRequest, "unsupported_grant_type"},
		{"parameters before password", func() map[string][]string { return pwForm("alice", "") }, id, secret, http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := counted.checks.Load()
			wantError(t, h.postURL(t, srv.URL, c.form(), c.id, c.secret), c.status, c.code)
			if n := counted.checks.Load() - before; n != 0 {
				t.Fatalf("%d password checks ran for a request refused before the hash", n)
			}
		})
	}
	// And a request that passes every step runs exactly one.
	before := counted.checks.Load()
	wantToken(t, h.postURL(t, srv.URL, pwForm("alice", "alice's password", "scope", "read"), id, secret))
	if n := counted.checks.Load() - before; n != 1 {
		t.Fatalf("%d password checks for one sign-in", n)
	}
}
