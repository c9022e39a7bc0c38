package grants_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"authserver/clients"
	"authserver/grants"
	"authserver/ratelimit"
)

func ccForm(extra ...string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func TestClientCredentialsIssuesRFC9068Token(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}})

	r := h.post(t, ccForm(), id, secret)
	wantToken(t, r)
	if r.str("refresh_token") != "" {
		t.Fatal("client_credentials must not issue a refresh token (RFC 6749 §4.4.3)")
	}
	if r.str("scope") != "read write" {
		t.Fatalf("no scope asked: want all of the client's, got %q", r.str("scope"))
	}
	if exp, _ := r.body["expires_in"].(float64); exp != 900 {
		t.Fatalf("expires_in = %v", r.body["expires_in"])
	}

	tok, _, err := jwt.NewParser().ParseUnverified(r.str("access_token"), jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["typ"] != "at+jwt" || tok.Header["kid"] == "" || tok.Header["alg"] != "ES256" {
		t.Fatalf("header %v", tok.Header)
	}
	claims, err := h.issuer.Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != id || claims.ClientID != id || claims.Issuer != "https://issuer.test" ||
		claims.ID == "" || claims.IssuedAt == nil || claims.ExpiresAt == nil ||
		len(claims.Audience) != 1 || claims.Audience[0] != "https://api.test" || claims.Scope != "read write" {
		t.Fatalf("claims %+v", claims)
	}
}

func TestClientCredentialsScope(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}, Audience: []string{"https://billing.test"}})

	r := h.post(t, ccForm("scope", "read"), id, secret)
	wantToken(t, r)
	claims, err := h.issuer.Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Scope != "read" || claims.Audience[0] != "https://billing.test" {
		t.Fatalf("claims %+v", claims)
	}
	for _, bad := range []string{"admin", "read admin", "re\"ad"} {
		wantError(t, h.post(t, ccForm("scope", bad), id, secret), http.StatusBadRequest, "invalid_scope")
	}
}

func TestClientAuthentication(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	postID, postSecret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, AuthMethod: clients.AuthSecretPost})
	pubID, _ := h.client(t, clients.Registration{Public: true, GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{"https://app.test/cb"}})

	t.Run("unknown client is 401 invalid_client, not 500", func(t *testing.T) {
		wantError(t, h.post(t, ccForm(), "no-such-client", "x"), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("wrong secret", func(t *testing.T) {
		wantError(t, h.post(t, ccForm(), id, secret+"x"), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("empty secret never matches", func(t *testing.T) {
		wantError(t, h.post(t, ccForm(), id, ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("no credentials", func(t *testing.T) {
		wantError(t, h.post(t, ccForm(), "", ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("secret is stored hashed", func(t *testing.T) {
		c, err := h.store.GetClient(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(c.SecretHash), secret) || len(c.SecretHash) != 32 {
			t.Fatalf("stored secret is not a SHA-256: %q", c.SecretHash)
		}
		if len(secret) < 43 {
			t.Fatalf("secret %q has less than 256 bits", secret)
		}
	})
	t.Run("credentials in the query string are refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/token?client_id="+id+"&client_secret="+secret, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantError(t, do(t, req), http.StatusBadRequest, "invalid_request")
	})
	t.Run("Basic values are form-url-decoded", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		escaped := fmt.Sprintf("%%%02X", id[0]) + id[1:] // the same id, its first byte percent-encoded
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(escaped+":"+secret)))
		wantToken(t, do(t, req))
	})
	t.Run("two methods at once are refused", func(t *testing.T) {
		wantError(t, h.post(t, ccForm("client_secret", secret), id, secret), http.StatusBadRequest, "invalid_request")
	})
	t.Run("client_secret_basic client may not post its secret", func(t *testing.T) {
		wantError(t, h.post(t, ccForm("client_id", id, "client_secret", secret), "", ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("client_secret_post client", func(t *testing.T) {
		wantToken(t, h.post(t, ccForm("client_id", postID, "client_secret", postSecret), "", ""))
		wantError(t, h.post(t, ccForm(), postID, postSecret), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("public client cannot use client_credentials", func(t *testing.T) {
		wantError(t, h.post(t, ccForm("client_id", pubID), "", ""), http.StatusBadRequest, "unauthorized_client")
		wantError(t, h.post(t, ccForm("client_id", pubID, "client_secret", "anything"), "", ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("confidential client without a secret", func(t *testing.T) {
		wantError(t, h.post(t, ccForm("client_id", id), "", ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("disabled client", func(t *testing.T) {
		did, dsecret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
		wantToken(t, h.post(t, ccForm(), did, dsecret))
		if _, err := h.clients.SetDisabled(context.Background(), did, true); err != nil {
			t.Fatal(err)
		}
		wantError(t, h.post(t, ccForm(), did, dsecret), http.StatusUnauthorized, "invalid_client")
	})
}

func TestTokenEndpointRejectsMalformedRequests(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	send := func(method, contentType, body string) reply {
		req, _ := http.NewRequest(method, h.srv.URL+"/token", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.SetBasicAuth(id, secret)
		return do(t, req)
	}
	wantError(t, send(http.MethodGet, "", ""), http.StatusBadRequest, "invalid_request")
	wantError(t, send(http.MethodPost, "application/json", `{"grant_type":"client_credentials"}`), http.StatusBadRequest, "invalid_request")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=password"), http.StatusBadRequest, "invalid_request")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=%zz"), http.StatusBadRequest, "invalid_request")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=client_credentials;scope=read"), http.StatusBadRequest, "invalid_request")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", ""), http.StatusBadRequest, "invalid_request")
	big := send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=client_credentials&scope="+strings.Repeat("a", 70<<10))
	wantError(t, big, http.StatusRequestEntityTooLarge, "invalid_request")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=urn:example:unknown"), http.StatusBadRequest, "unsupported_grant_type")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=password&username=a&password=b"), http.StatusBadRequest, "unauthorized_client")
	wantError(t, send(http.MethodPost, "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x"), http.StatusBadRequest, "unauthorized_client")
}

// Failed client authentications are limited per client id, and the
// counter is in the store, so two server nodes share it.
func TestClientAuthenticationLockout(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	other := grants.NewEndpoint(testConfig(), grants.Deps{ // a second node on the same store
		Clients: h.clients, Users: h.users, Families: h.store, Codes: h.store, Deny: h.store,
		Limiter: ratelimit.New(h.store), Issuer: h.issuer, Revoker: h.endpointRevoker(), Chain: testChain,
	})
	second := httptest.NewServer(other)
	defer second.Close()
	nodes := []string{h.srv.URL, second.URL}
	for i := range testConfig().ClientAuthLimit.Max {
		wantError(t, h.postURL(t, nodes[i%2], ccForm(), id, "wrong"), http.StatusUnauthorized, "invalid_client")
	}
	r := h.postURL(t, nodes[0], ccForm(), id, "wrong")
	wantError(t, r, http.StatusTooManyRequests, "invalid_client")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("lockout without Retry-After")
	}
	wantError(t, h.postURL(t, nodes[1], ccForm(), id, "wrong"), http.StatusTooManyRequests, "invalid_client")
	// The real secret cannot be guessed, so it still works (see clientauth.go).
	wantToken(t, h.postURL(t, nodes[1], ccForm(), id, secret))
}
