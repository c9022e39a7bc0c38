package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/config"
	"authserver/store/redistest"
	"authserver/store/storetest"
)

// partnerCall is one plain-HTTP request as a partner's own code would send
// it: JSON in, JSON out.
func partnerCall(t *testing.T, method, u, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q", method, u, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func s(m map[string]any, k string) string { v, _ := m[k].(string); return v }

// onboardPartner is the README's "Onboarding a partner": the admin creates
// an initial access token, the partner registers over plain HTTP and gets
// tokens with golang.org/x/oauth2, then manages its registration (RFC 7592).
// It returns what the partner was given, for backend-specific checks.
func onboardPartner(t *testing.T, n *node) (iat string, reg map[string]any) {
	ctx := context.Background()

	// The metadata names the endpoint, and every endpoint it names exists.
	_, meta := partnerCall(t, "GET", n.base+"/.well-known/oauth-authorization-server", "", nil)
	regURL := s(meta, "registration_endpoint")
	if regURL != n.base+"/register" {
		t.Fatalf("registration_endpoint %q", regURL)
	}
	for k, v := range meta {
		if !strings.HasSuffix(k, "_endpoint") && k != "jwks_uri" {
			continue
		}
		method := "POST"
		if k == "authorization_endpoint" || k == "jwks_uri" {
			method = "GET"
		}
		req, _ := http.NewRequest(method, v.(string), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode >= 500 {
			t.Errorf("metadata lists %s = %s, which answers %d", k, v, resp.StatusCode)
		}
	}

	// Without an initial access token, nobody registers.
	machine := map[string]any{
		"client_name": "Partner billing", "grant_types": []string{"client_credentials"}, "scope": "invoices:read",
		"contacts": []string{"ops@partner.example"},
	}
	if code, body := partnerCall(t, "POST", regURL, "", machine); code != http.StatusUnauthorized || s(body, "error") != "invalid_token" {
		t.Fatalf("registration without a token: %d %v", code, body)
	}

	// The admin creates a one-use token ...
	iat = s(n.admin(t, "POST", "/admin/initial-access-tokens", map[string]any{"ttl": "1h", "uses": 1}), "token")
	// ... a typo in the metadata does not spend it ...
	if code, body := partnerCall(t, "POST", regURL, iat, map[string]any{"redirect_uris": []string{"http://partner.example/cb"}}); code != http.StatusBadRequest || s(body, "error") != "invalid_redirect_uri" {
		t.Fatalf("bad redirect URI: %d %v", code, body)
	}
	// ... the partner registers ...
	code, reg := partnerCall(t, "POST", regURL, iat, machine)
	if code != http.StatusCreated || s(reg, "client_secret") == "" || s(reg, "registration_access_token") == "" {
		t.Fatalf("registration: %d %v", code, reg)
	}
	// ... and the token is spent.
	if code, _ := partnerCall(t, "POST", regURL, iat, machine); code != http.StatusUnauthorized {
		t.Fatalf("second registration on a one-use token: %d", code)
	}

	// Tokens at once, with a real OAuth client library.
	cc := clientcredentials.Config{ClientID: s(reg, "client_id"), ClientSecret: s(reg, "client_secret"),
		TokenURL: s(meta, "token_endpoint"), AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("token for the registered client: %v", err)
	}
	if c := verify(t, n, tok.AccessToken); c.Subject != s(reg, "client_id") || c.Scope != "invoices:read" {
		t.Fatalf("claims %+v", c)
	}

	// RFC 7592 with the registration access token.
	mgmt, rat := s(reg, "registration_client_uri"), s(reg, "registration_access_token")
	if code, got := partnerCall(t, "GET", mgmt, rat, nil); code != http.StatusOK || s(got, "client_name") != "Partner billing" {
		t.Fatalf("read: %d %v", code, got)
	}
	update := map[string]any{"client_id": s(reg, "client_id"), "client_name": "Partner billing v2",
		"grant_types": []string{"client_credentials"}, "scope": "invoices:read"}
	if code, got := partnerCall(t, "PUT", mgmt, rat, update); code != http.StatusOK || s(got, "client_name") != "Partner billing v2" {
		t.Fatalf("update: %d %v", code, got)
	}
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("token after the update: %v", err)
	}
	// The admin sees the client under its new name, self-registered and
	// not first-party.
	if got := n.admin(t, "GET", "/admin/clients/"+url.PathEscape(s(reg, "client_id")), nil); got["name"] != "Partner billing v2" || got["first_party"] != false || got["self_registered"] != true {
		t.Fatalf("admin view: %v", got)
	}
	return iat, reg
}

// A second partner app with users: password grant, refresh, revocation;
// then the partner deletes the first registration and its credentials stop
// working.
func partnerUsersAndDelete(t *testing.T, n *node, first map[string]any) {
	ctx := context.Background()
	iat := s(n.admin(t, "POST", "/admin/initial-access-tokens", nil), "token")
	code, app := partnerCall(t, "POST", n.base+"/register", iat, map[string]any{
		"client_name": "Partner mobile", "grant_types": []string{"password", "refresh_token"},
		"token_endpoint_auth_method": "client_secret_post", "scope": "profile",
	})
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, app)
	}
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "carol", "password": "carol's long password"})
	conf := oauth2.Config{ClientID: s(app, "client_id"), ClientSecret: s(app, "client_secret"),
		Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := conf.PasswordCredentialsToken(ctx, "carol", "carol's long password")
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("password grant: %+v, %v", tok, err)
	}
	next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %+v, %v", next, err)
	}
	// The partner revokes the refresh token (RFC 7009): it no longer refreshes.
	resp, err := http.PostForm(n.base+"/revoke", url.Values{"token": {next.RefreshToken},
		"client_id": {s(app, "client_id")}, "client_secret": {s(app, "client_secret")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err == nil {
		t.Fatal("a revoked refresh token still refreshes")
	}

	// Another client's registration access token manages nothing.
	mgmt := s(first, "registration_client_uri")
	if code, _ := partnerCall(t, "DELETE", mgmt, s(app, "registration_access_token"), nil); code != http.StatusUnauthorized {
		t.Fatalf("delete with another client's token: %d", code)
	}
	if code, _ := partnerCall(t, "DELETE", mgmt, s(first, "registration_access_token"), nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	cc := clientcredentials.Config{ClientID: s(first, "client_id"), ClientSecret: s(first, "client_secret"), TokenURL: n.base + "/token"}
	if _, err := cc.Token(ctx); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("token for a deleted client: %v", err)
	}
	if code, _ := partnerCall(t, "GET", mgmt, s(first, "registration_access_token"), nil); code != http.StatusUnauthorized {
		t.Fatalf("read after delete: %d", code)
	}
}

// partnerPasswords is the admin's opt-in to the password grant for
// self-registered clients, which the second partner app uses.
func partnerPasswords(c *config.Config) {
	c.Registration.AllowedGrantTypes = append(c.Registration.AllowedGrantTypes, "password")
}

func TestOnboardPartnerEmbedded(t *testing.T) {
	n := startNode(t, partnerPasswords)
	iat, reg := onboardPartner(t, n)
	// The embedded file is scanned too.
	storetest.ScanForSecrets(t, embeddedDump(t, n, map[string]int{}), partnerSecrets(iat, reg))
	partnerUsersAndDelete(t, n, reg)
}

// partnerSecrets are what onboardPartner handled that only hashes of may
// reach the store (app.TestStoreHoldsNoSecret* scans after a flow that
// stores everything).
func partnerSecrets(iat string, reg map[string]any) []storetest.Secret {
	return []storetest.Secret{
		{Name: "initial access token", Value: []byte(iat)},
		{Name: "client secret", Value: []byte(s(reg, "client_secret"))},
		{Name: "registration access token", Value: []byte(s(reg, "registration_access_token"))},
	}
}

func TestOnboardPartnerRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) { partnerPasswords(c); c.Redis.URL = r.URL() })
	iat, reg := onboardPartner(t, n)

	// Only hashes of what the partner was given reach Redis, in keys of
	// any type.
	storetest.ScanForSecrets(t, r.Dump, partnerSecrets(iat, reg))
	rc := r.Client(t)
	ctx := context.Background()
	// The spent one-use token is gone.
	h := sha256.Sum256([]byte(iat))
	if n, _ := rc.Exists(ctx, "authserver:{iat:"+hex.EncodeToString(h[:])+"}").Result(); n != 0 {
		t.Fatal("a used-up initial access token is still stored")
	}
	partnerUsersAndDelete(t, n, reg)
}

// Open registration needs no token; the grant policy still applies.
func TestOpenRegistration(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Registration.Open = true
		c.Registration.AllowedGrantTypes = []string{"client_credentials"}
	})
	code, reg := partnerCall(t, "POST", n.base+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	if code != http.StatusCreated {
		t.Fatalf("open registration: %d %v", code, reg)
	}
	code, body := partnerCall(t, "POST", n.base+"/register", "", map[string]any{"grant_types": []string{"password"}})
	if code != http.StatusBadRequest || s(body, "error") != "invalid_client_metadata" {
		t.Fatalf("a grant outside the policy: %d %v", code, body)
	}
}

// RFC 9700 §2.4: by default a self-registered (third-party) client may not
// have the password grant, which would show it the users' passwords; the
// refusal is 400 invalid_client_metadata and stores nothing. An admin who
// lists the grant in registration.allowed_grant_types may allow it.
func passwordGrantPolicy(t *testing.T, n, allowing *node) {
	for _, tc := range []struct {
		grants []string
		auth   string
	}{
		{[]string{"password"}, ""},
		{[]string{"password", "refresh_token"}, "client_secret_post"},
		{[]string{"client_credentials", "password"}, ""},
	} {
		md := map[string]any{"client_name": "Partner mobile", "grant_types": tc.grants}
		if tc.auth != "" {
			md["token_endpoint_auth_method"] = tc.auth
		}
		iat := s(n.admin(t, "POST", "/admin/initial-access-tokens", nil), "token")
		code, body := partnerCall(t, "POST", n.base+"/register", iat, md)
		if code != http.StatusBadRequest || s(body, "error") != "invalid_client_metadata" {
			t.Errorf("registering %v with the default policy: %d %v", tc.grants, code, body)
		}
		// The refusal spent nothing: the token still registers a client
		// with an allowed grant.
		if code, body := partnerCall(t, "POST", n.base+"/register", iat, map[string]any{"grant_types": []string{"client_credentials"}}); code != http.StatusCreated {
			t.Errorf("the token after a refusal: %d %v", code, body)
		}
	}
	for _, c := range n.admin(t, "GET", "/admin/clients", nil)["clients"].([]any) {
		if slices.Contains(c.(map[string]any)["grant_types"].([]any), any("password")) {
			t.Errorf("a client with the password grant was stored: %v", c)
		}
	}

	iat := s(allowing.admin(t, "POST", "/admin/initial-access-tokens", nil), "token")
	code, body := partnerCall(t, "POST", allowing.base+"/register", iat, map[string]any{"client_name": "Partner mobile", "grant_types": []string{"password"}})
	if code != http.StatusCreated || s(body, "client_id") == "" {
		t.Fatalf("registering password where the admin allows it: %d %v", code, body)
	}
}

func TestRegistrationRefusesPasswordGrantByDefaultEmbedded(t *testing.T) {
	passwordGrantPolicy(t, startNode(t, nil), startNode(t, partnerPasswords))
}

func TestRegistrationRefusesPasswordGrantByDefaultRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	onRedis := func(c *config.Config) { c.Redis.URL = r.URL(); c.Redis.KeyPrefix = "default:" }
	allowing := func(c *config.Config) { partnerPasswords(c); c.Redis.URL = r.URL(); c.Redis.KeyPrefix = "allowing:" }
	passwordGrantPolicy(t, startNode(t, onRedis), startNode(t, allowing))
}
