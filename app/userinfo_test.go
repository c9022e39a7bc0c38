package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/config"
	"authserver/grants"
	"authserver/store/redistest"
)

// oidcScopes are configured by the UserInfo tests on top of startNode's.
func oidcScopes(c *config.Config) {
	c.Scopes = append(c.Scopes, "openid", "email", "phone", "address")
}

// userInfoCall is one call of /userinfo; token goes in the Authorization
// header when set, form (when set) in a POST body.
func userInfoCall(t *testing.T, n *node, method, query, token string, form url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, n.base+"/userinfo"+query, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s /userinfo: %d, body not JSON: %v", method, resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, out
}

// wantRefused checks a 401/403/400 with its WWW-Authenticate challenge.
func wantRefused(t *testing.T, what string, status int, h http.Header, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	challenge := h.Get("WWW-Authenticate")
	if status != wantStatus || !strings.HasPrefix(challenge, `Bearer realm="userinfo"`) || body["error_description"] == nil {
		t.Fatalf("%s: %d %q %v, want %d with a Bearer challenge", what, status, challenge, body, wantStatus)
	}
	if wantCode == "" {
		if strings.Contains(challenge, "error=") || body["error"] != nil {
			t.Fatalf("%s: %q %v names an error; a request without a token gets none", what, challenge, body)
		}
		return
	}
	if !strings.Contains(challenge, `error="`+wantCode+`"`) || body["error"] != wantCode {
		t.Fatalf("%s: %q %v, want error %s", what, challenge, body, wantCode)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: Cache-Control %q", what, h.Get("Cache-Control"))
	}
}

// userInfo runs the UserInfo checks against one node.
func userInfo(t *testing.T, n *node) {
	ctx := context.Background()
	all := []string{"openid", "profile", "email", "phone", "address"}
	mobile := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": append(all, "invoices:read"),
	})
	conf := oauth2.Config{
		ClientID: mobile["id"].(string), ClientSecret: mobile["client_secret"].(string),
		Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	alice := n.admin(t, "POST", "/admin/users", map[string]any{
		"username": "alice", "password": "alice's long password",
		"name": "Alice Liddell", "given_name": "Alice", "email": "alice@example.com", "email_verified": true,
		"locale": "en-GB", "address": map[string]any{"country": "GB"},
	})
	sub := alice["id"].(string)
	token := func(scopes ...string) string {
		t.Helper()
		conf.Scopes = scopes
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice's long password")
		if err != nil {
			t.Fatalf("password grant for %v: %v", scopes, err)
		}
		return tok.AccessToken
	}

	t.Run("ClaimsPerScope", func(t *testing.T) {
		cases := []struct {
			scopes []string
			want   map[string]any
		}{
			{[]string{"openid"}, map[string]any{"sub": sub}},
			{[]string{"openid", "profile"}, map[string]any{"sub": sub, "name": "Alice Liddell", "given_name": "Alice", "locale": "en-GB", "updated_at": nil}},
			{[]string{"openid", "email"}, map[string]any{"sub": sub, "email": "alice@example.com", "email_verified": true}},
			{[]string{"openid", "profile", "email"}, map[string]any{"sub": sub, "name": "Alice Liddell", "given_name": "Alice", "locale": "en-GB",
				"updated_at": nil, "email": "alice@example.com", "email_verified": true}},
			// phone is granted but unset: nothing to release.
			{[]string{"openid", "phone", "address", "invoices:read"}, map[string]any{"sub": sub, "address": map[string]any{"country": "GB"}}},
		}
		for _, c := range cases {
			status, h, got := userInfoCall(t, n, http.MethodGet, "", token(c.scopes...), nil)
			if status != http.StatusOK || h.Get("Cache-Control") != "no-store" || len(got) != len(c.want) {
				t.Fatalf("%v: %d %q %v, want %v", c.scopes, status, h.Get("Cache-Control"), got, c.want)
			}
			for k, v := range c.want {
				if _, ok := got[k]; !ok || v != nil && !sameJSON(got[k], v) {
					t.Fatalf("%v: %s = %v, want %v (all: %v)", c.scopes, k, got[k], v, got)
				}
			}
		}
	})

	t.Run("NoOpenIDScope", func(t *testing.T) {
		status, h, body := userInfoCall(t, n, http.MethodGet, "", token("profile", "email"), nil)
		wantRefused(t, "without openid", status, h, body, http.StatusForbidden, "insufficient_scope")
		if !strings.Contains(h.Get("WWW-Authenticate"), `scope="openid"`) {
			t.Fatalf("the challenge %q does not name the scope needed", h.Get("WWW-Authenticate"))
		}
	})

	t.Run("BadTokens", func(t *testing.T) {
		status, h, body := userInfoCall(t, n, http.MethodGet, "", "", nil)
		wantRefused(t, "no token", status, h, body, http.StatusUnauthorized, "")
		good := token("openid", "profile")
		expired, err := n.app.Issuer.Mint(grants.Access{ClientID: conf.ClientID, UserID: sub, Scope: "openid profile",
			IssuedAt: time.Now().Add(-time.Hour), TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		tampered := good[:len(good)-4] + flip(good[len(good)-4:])
		for what, tok := range map[string]string{"garbage": "not-a-token", "expired": expired, "bad signature": tampered} {
			status, h, body := userInfoCall(t, n, http.MethodGet, "", tok, nil)
			wantRefused(t, what, status, h, body, http.StatusUnauthorized, "invalid_token")
		}
		// Basic is no bearer token at all.
		req, _ := http.NewRequest(http.MethodGet, n.base+"/userinfo", nil)
		req.SetBasicAuth(conf.ClientID, conf.ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(resp.Header.Get("WWW-Authenticate"), "error=") {
			t.Fatalf("Basic credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("ClientCredentialsToken", func(t *testing.T) {
		svc := n.admin(t, "POST", "/admin/clients", map[string]any{
			"name": "service", "grant_types": []string{"client_credentials"}, "scopes": []string{"openid", "profile"},
		})
		cc := clientcredentials.Config{ClientID: svc["id"].(string), ClientSecret: svc["client_secret"].(string),
			TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader, Scopes: []string{"openid", "profile"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		status, h, body := userInfoCall(t, n, http.MethodGet, "", tok.AccessToken, nil)
		wantRefused(t, "client_credentials token", status, h, body, http.StatusUnauthorized, "invalid_token")
	})

	t.Run("PostAndQuery", func(t *testing.T) {
		tok := token("openid", "email")
		status, _, got := userInfoCall(t, n, http.MethodPost, "", "", url.Values{"access_token": {tok}})
		if status != http.StatusOK || got["email"] != "alice@example.com" {
			t.Fatalf("POST with the token in the body: %d %v", status, got)
		}
		status, _, got = userInfoCall(t, n, http.MethodPost, "", tok, nil)
		if status != http.StatusOK || got["sub"] != sub {
			t.Fatalf("POST with the token in the header: %d %v", status, got)
		}
		status, h, body := userInfoCall(t, n, http.MethodPost, "", tok, url.Values{"access_token": {tok}})
		wantRefused(t, "token in header and body", status, h, body, http.StatusBadRequest, "invalid_request")
		status, h, body = userInfoCall(t, n, http.MethodGet, "?access_token="+url.QueryEscape(tok), "", nil)
		wantRefused(t, "token in the query", status, h, body, http.StatusBadRequest, "invalid_request")
	})

	t.Run("Revoked", func(t *testing.T) {
		// /revoke of the refresh token denies the family's newest access token.
		conf.Scopes = []string{"openid"}
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice's long password")
		if err != nil {
			t.Fatal(err)
		}
		if code, body := formCall(t, n.base+"/revoke", url.Values{"token": {tok.RefreshToken}}, conf.ClientID, conf.ClientSecret, ""); code != http.StatusOK {
			t.Fatalf("revoke: %d %v", code, body)
		}
		status, h, body := userInfoCall(t, n, http.MethodGet, "", tok.AccessToken, nil)
		wantRefused(t, "after /revoke", status, h, body, http.StatusUnauthorized, "invalid_token")

		// Sign-out everywhere ends a token that has no family to deny: a
		// client without the refresh grant. Issued a second before, so its
		// iat predates the new generation.
		web := n.admin(t, "POST", "/admin/clients", map[string]any{
			"name": "no refresh", "grant_types": []string{"password"}, "scopes": []string{"openid"},
		})
		plain := oauth2.Config{ClientID: web["id"].(string), ClientSecret: web["client_secret"].(string), Scopes: []string{"openid"},
			Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
		noFamily, err := plain.PasswordCredentialsToken(ctx, "alice", "alice's long password")
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := userInfoCall(t, n, http.MethodGet, "", noFamily.AccessToken, nil); status != http.StatusOK {
			t.Fatalf("before sign-out: %d", status)
		}
		time.Sleep(1100 * time.Millisecond)
		n.admin(t, "DELETE", "/admin/users/"+sub+"/families", nil)
		status, h, body = userInfoCall(t, n, http.MethodGet, "", noFamily.AccessToken, nil)
		wantRefused(t, "after sign-out everywhere", status, h, body, http.StatusUnauthorized, "invalid_token")
		fresh, err := plain.PasswordCredentialsToken(ctx, "alice", "alice's long password")
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := userInfoCall(t, n, http.MethodGet, "", fresh.AccessToken, nil); status != http.StatusOK {
			t.Fatalf("a sign-in after the sign-out: %d", status)
		}

		// A disabled user's tokens die at once, re-enabling brings back
		// only what was issued since.
		n.admin(t, "POST", "/admin/users/"+sub+"/disable", nil)
		status, h, body = userInfoCall(t, n, http.MethodGet, "", fresh.AccessToken, nil)
		wantRefused(t, "user disabled", status, h, body, http.StatusUnauthorized, "invalid_token")
		n.admin(t, "POST", "/admin/users/"+sub+"/enable", nil)
	})

	t.Run("ProfileChangeKeepsSub", func(t *testing.T) {
		tok := token("openid", "email", "profile")
		n.admin(t, "PATCH", "/admin/users/"+sub+"/profile", map[string]any{"email": "liddell@example.org", "email_verified": false, "locale": nil})
		status, _, got := userInfoCall(t, n, http.MethodGet, "", tok, nil)
		if status != http.StatusOK || got["sub"] != sub || got["email"] != "liddell@example.org" || got["email_verified"] != false ||
			got["locale"] != nil || got["name"] != "Alice Liddell" {
			t.Fatalf("after a profile change: %d %v", status, got)
		}
	})

	t.Run("OAuth2Client", func(t *testing.T) {
		// The way an app calls it: golang.org/x/oauth2's HTTP client.
		conf.Scopes = []string{"openid", "profile"}
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice's long password")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := conf.Client(ctx, tok).Get(n.base + "/userinfo")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var claims struct {
			Sub       string `json:"sub"`
			Name      string `json:"name"`
			UpdatedAt int64  `json:"updated_at"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil || resp.StatusCode != http.StatusOK ||
			claims.Sub != sub || claims.Name != "Alice Liddell" || claims.UpdatedAt == 0 ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("userinfo through x/oauth2: %d %+v %v", resp.StatusCode, claims, err)
		}
	})
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestUserInfoEmbedded(t *testing.T) {
	userInfo(t, startNode(t, oidcScopes))
}

func TestUserInfoRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	userInfo(t, startNode(t, func(c *config.Config) { oidcScopes(c); c.Redis.URL = r.URL() }))
}
