package grants_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"authserver/clients"
)

func pwForm(username, password string, extra ...string) url.Values {
	f := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func TestPasswordGrant(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}})
	u := h.user(t, "alice", "correct horse battery")

	r := h.post(t, pwForm("alice", "correct horse battery", "scope", "read"), id, secret)
	wantToken(t, r)
	if r.str("refresh_token") == "" {
		t.Fatal("a client allowed refresh_token gets a refresh token")
	}
	claims, err := h.issuer.Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != u.ID || claims.ClientID != id || claims.Scope != "read" {
		t.Fatalf("claims %+v", claims)
	}

	noRefreshID, noRefreshSecret := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	r = h.post(t, pwForm("alice", "correct horse battery"), noRefreshID, noRefreshSecret)
	wantToken(t, r)
	if r.str("refresh_token") != "" {
		t.Fatal("a client not allowed refresh_token got a refresh token")
	}

	wantError(t, h.post(t, pwForm("alice", "correct horse battery", "scope", "admin"), id, secret), http.StatusBadRequest, "invalid_scope")
	wantError(t, h.post(t, pwForm("alice", ""), id, secret), http.StatusBadRequest, "invalid_request")

	if err := h.users.SetDisabled(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.post(t, pwForm("alice", "correct horse battery"), id, secret), http.StatusBadRequest, "invalid_grant")
}

// go-oauth2 checks the password before the client: a wrong client secret
// then answers differently for a right and a wrong password. Here both
// answers are the same, and so are an unknown user and a wrong password.
func TestPasswordGrantIsNoOracle(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	ccID, ccSecret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	h.user(t, "bob", "right password 1")

	same := func(a, b reply) {
		t.Helper()
		if a.status != b.status || a.str("error") != b.str("error") || a.str("error_description") != b.str("error_description") {
			t.Fatalf("answers differ: %d %v vs %d %v", a.status, a.body, b.status, b.body)
		}
	}
	right := h.post(t, pwForm("bob", "right password 1"), id, "wrong secret")
	wrong := h.post(t, pwForm("bob", "wrong password 1"), id, "wrong secret")
	wantError(t, right, http.StatusUnauthorized, "invalid_client")
	same(right, wrong)

	// A client authenticated but not allowed the grant learns nothing either.
	right = h.post(t, pwForm("bob", "right password 1"), ccID, ccSecret)
	wrong = h.post(t, pwForm("bob", "wrong password 1"), ccID, ccSecret)
	wantError(t, right, http.StatusBadRequest, "unauthorized_client")
	same(right, wrong)

	unknown := h.post(t, pwForm("nobody", "wrong password 1"), id, secret)
	wrong = h.post(t, pwForm("bob", "wrong password 1"), id, secret)
	wantError(t, unknown, http.StatusBadRequest, "invalid_grant")
	same(unknown, wrong)
}

func TestPasswordLockout(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	h.user(t, "carol", "carol's password")
	h.user(t, "dave", "dave's password")

	// Usernames are case-insensitive, so changing case buys no extra guesses.
	spellings := []string{"carol", "Carol", "CAROL", "cArol", "caRol"}
	for i := range testConfig().PasswordLimits.PerUser.Max {
		wantError(t, h.post(t, pwForm(spellings[int(i)%len(spellings)], "guess guess"), id, secret), http.StatusBadRequest, "invalid_grant")
	}
	// Over the limit even the right password is refused, with Retry-After.
	r := h.post(t, pwForm("carol", "carol's password"), id, secret)
	wantError(t, r, http.StatusTooManyRequests, "invalid_grant")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("lockout without Retry-After")
	}
	// An unknown username is counted the same way (no enumeration by lockout).
	for range testConfig().PasswordLimits.PerUser.Max {
		h.post(t, pwForm("ghost", "guess guess"), id, secret)
	}
	wantError(t, h.post(t, pwForm("ghost", "guess guess"), id, secret), http.StatusTooManyRequests, "invalid_grant")
	// Another user of the same client is not locked by carol's failures.
	wantToken(t, h.post(t, pwForm("dave", "dave's password"), id, secret))
}

func TestPasswordLockoutPerClient(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	otherID, otherSecret := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	h.user(t, "erin", "erin's password")
	limit := testConfig().PasswordLimits.PerClient.Max
	for i := range limit {
		h.post(t, pwForm("spray"+string(rune('a'+i%26))+string(rune('a'+i/26)), "guess guess"), id, secret)
	}
	wantError(t, h.post(t, pwForm("erin", "erin's password"), id, secret), http.StatusTooManyRequests, "invalid_grant")
	wantToken(t, h.post(t, pwForm("erin", "erin's password"), otherID, otherSecret))
}
