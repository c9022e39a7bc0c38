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

	"authserver/config"
	"authserver/store/redistest"
)

// formCall is one plain-HTTP form POST as an app or a resource server
// sends it: Basic credentials when secret is set, else client_id in the
// body (a public client), and an X-Request-ID when requestID is set. The
// body of the answer is decoded when there is one.
func formCall(t *testing.T, u string, form url.Values, id, secret, requestID string) (int, map[string]any) {
	t.Helper()
	if secret == "" && id != "" {
		form.Set("client_id", id)
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, raw)
	}
	if requestID != "" && resp.Header.Get("X-Request-ID") != requestID {
		t.Fatalf("POST %s: X-Request-ID %q not echoed", u, requestID)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("POST %s: %d %q", u, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// revokeAt revokes token at base as the client; RFC 7009 answers 200.
func revokeAt(t *testing.T, base, token, hint, id, secret string) {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	if code, body := formCall(t, base+"/revoke", form, id, secret, ""); code != http.StatusOK {
		t.Fatalf("revoke: %d %v", code, body)
	}
}

// introspectAt asks base about token as the client and reports "active".
func introspectAt(t *testing.T, base, token, id, secret string) (bool, map[string]any) {
	t.Helper()
	code, body := formCall(t, base+"/introspect", url.Values{"token": {token}}, id, secret, "")
	if code != http.StatusOK {
		t.Fatalf("introspect: %d %v", code, body)
	}
	active, _ := body["active"].(bool)
	if !active && len(body) != 1 {
		t.Fatalf("an inactive answer says more than that: %v", body)
	}
	return active, body
}

// An app revokes; a resource server introspects: the README's flow, with
// golang.org/x/oauth2 as the app and plain HTTP for /revoke and /introspect.
func resourceServerFlow(t *testing.T, n *node) {
	ctx := context.Background()
	_, meta := partnerCall(t, "GET", n.base+"/.well-known/oauth-authorization-server", "", nil)
	if meta["revocation_endpoint"] != n.base+"/revoke" || meta["introspection_endpoint"] != n.base+"/introspect" {
		t.Fatalf("metadata %v", meta)
	}
	app := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"invoices:read"},
	})
	rs := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "invoice api", "grant_types": []string{"client_credentials"},
	})
	appID, appSecret := app["id"].(string), app["client_secret"].(string)
	rsID, rsSecret := rs["id"].(string), rs["client_secret"].(string)
	user := n.admin(t, "POST", "/admin/users", map[string]any{"username": "ivy", "password": "ivy's long password"})

	conf := oauth2.Config{ClientID: appID, ClientSecret: appSecret,
		Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := conf.PasswordCredentialsToken(ctx, "ivy", "ivy's long password")
	if err != nil {
		t.Fatal(err)
	}
	active, info := introspectAt(t, n.base, tok.AccessToken, rsID, rsSecret)
	if !active || info["sub"] != user["id"] || info["client_id"] != appID || info["scope"] != "invoices:read" || info["token_type"] != "Bearer" {
		t.Fatalf("introspection %v", info)
	}

	// The app revokes its access token: the resource server sees it dead;
	// the app's refresh token lives on.
	revokeAt(t, n.base, tok.AccessToken, "access_token", appID, appSecret)
	if active, _ := introspectAt(t, n.base, tok.AccessToken, rsID, rsSecret); active {
		t.Fatal("a revoked access token is active")
	}
	next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatalf("refresh after revoking the access token: %v", err)
	}
	if active, _ := introspectAt(t, n.base, next.AccessToken, rsID, rsSecret); !active {
		t.Fatal("the refreshed access token is inactive")
	}

	// Sign-out in the app: revoking the refresh token ends the family and
	// its newest access token.
	revokeAt(t, n.base, next.RefreshToken, "", appID, appSecret)
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err == nil ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh with a revoked token: %v", err)
	}
	if active, _ := introspectAt(t, n.base, next.AccessToken, rsID, rsSecret); active {
		t.Fatal("the newest access token of a revoked family is active")
	}
	if active, _ := introspectAt(t, n.base, next.RefreshToken, appID, appSecret); active {
		t.Fatal("a revoked refresh token is active")
	}
}

func TestResourceServerFlowEmbedded(t *testing.T) {
	resourceServerFlow(t, startNode(t, nil))
}

func TestResourceServerFlowRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	resourceServerFlow(t, startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() }))
}

// Admin operations, end to end: a secret rotated with an overlap keeps the
// old one working until a rotation without; a disabled client's refresh
// tokens stop at once; sign out everywhere ends every session of a user.
func TestAdminTokenOperations(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.Tokens.AccessTTL = time.Minute })
	ctx := context.Background()
	app := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"},
	})
	id, s0 := app["id"].(string), app["client_secret"].(string)
	user := n.admin(t, "POST", "/admin/users", map[string]any{"username": "jo", "password": "jo's long password"})
	conf := func(secret string) oauth2.Config {
		return oauth2.Config{ClientID: id, ClientSecret: secret,
			Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	}
	signIn := func(secret string) (*oauth2.Token, error) {
		c := conf(secret)
		return c.PasswordCredentialsToken(ctx, "jo", "jo's long password")
	}
	refresh := func(secret, rt string) (*oauth2.Token, error) {
		c := conf(secret)
		return c.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
	}

	// Rotation with an overlap: both secrets work, both for new sign-ins
	// and for refresh tokens issued under the old one.
	rot := n.admin(t, "POST", "/admin/clients/"+id+"/secret", map[string]any{"overlap": "1h"})
	s1 := rot["client_secret"].(string)
	if s1 == "" || s1 == s0 || rot["previous_secret_expires_at"] == nil {
		t.Fatalf("rotation answer %v", rot)
	}
	tok, err := signIn(s0)
	if err != nil {
		t.Fatalf("old secret inside the overlap: %v", err)
	}
	if tok, err = refresh(s1, tok.RefreshToken); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	// A rotation without overlap ends every earlier secret at once.
	s2 := n.admin(t, "POST", "/admin/clients/"+id+"/secret", nil)["client_secret"].(string)
	for _, old := range []string{s0, s1} {
		if _, err := signIn(old); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("a rotated-out secret still works: %v", err)
		}
	}
	if tok, err = refresh(s2, tok.RefreshToken); err != nil {
		t.Fatalf("refresh with the newest secret: %v", err)
	}

	// Disable: the client's refresh tokens stop at once, and stay stopped
	// when it is enabled again: disabling revokes what the client held.
	held := tok
	n.admin(t, "POST", "/admin/clients/"+id+"/disable", nil)
	if _, err := refresh(s2, held.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("a disabled client refreshed: %v", err)
	}
	n.admin(t, "POST", "/admin/clients/"+id+"/enable", nil)
	if _, err = refresh(s2, held.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("a family from before the disable refreshed after enabling: %v", err)
	}
	if active, _ := introspectAt(t, n.base, held.AccessToken, id, s2); active {
		t.Fatal("the newest access token of a disabled client is active")
	}
	if tok, err = signIn(s2); err != nil {
		t.Fatalf("sign in after enabling: %v", err)
	}

	// Sign out everywhere: two devices, both ended, their newest access
	// tokens inactive; the user can sign in again.
	other, err := signIn(s2)
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/users/" + user["id"].(string) + "/families"
	fams, _ := n.admin(t, "GET", path, nil)["families"].([]any)
	if len(fams) != 2 {
		t.Fatalf("families %v", fams)
	}
	if got := n.admin(t, "DELETE", path, nil); got["families_revoked"] != float64(2) {
		t.Fatalf("sign out %v", got)
	}
	for _, dev := range []*oauth2.Token{tok, other} {
		if _, err := refresh(s2, dev.RefreshToken); err == nil {
			t.Fatal("a device is still signed in")
		}
		if active, _ := introspectAt(t, n.base, dev.AccessToken, id, s2); active {
			t.Fatal("a signed-out device's access token is active")
		}
	}
	if _, err := signIn(s2); err != nil {
		t.Fatalf("sign in after sign-out: %v", err)
	}
}
