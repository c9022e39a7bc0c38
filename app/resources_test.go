package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"authserver/config"
	"authserver/resource"
	"authserver/store/redistest"
)

const (
	invoicesAPI = "https://invoices.example/"
	reportsAPI  = "https://reports.example/v2"
)

// tokenCall posts form to the node's /token as the client and decodes the
// answer.
func (n *node) tokenCall(t *testing.T, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	return n.formCall(t, "/token", id, secret, form)
}

func (n *node) formCall(t *testing.T, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// guard is package resource configured as the API aud names.
func (n *node) guard(t *testing.T, aud string) *resource.Validator {
	t.Helper()
	v, err := resource.New(resource.Config{Issuer: n.app.Config.Issuer, Audience: aud, JWKSURL: n.base + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// resourceFlow registers two APIs over the admin API and runs RFC 8707
// through the node: tokens for one API are good there only, carry only
// its scopes, and a refresh narrows but never widens.
func resourceFlow(t *testing.T, n *node) {
	ctx := context.Background()
	n.admin(t, "POST", "/admin/resources", map[string]any{"uri": invoicesAPI, "name": "Invoices", "scopes": []string{"invoices:read", "invoices:write"}, "access_token_ttl": "2m"})
	n.admin(t, "POST", "/admin/resources", map[string]any{"uri": reportsAPI, "name": "Reports", "scopes": []string{"profile"}})
	cl := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "rind", "grant_types": []string{"client_credentials", "password", "refresh_token"}, "scopes": []string{"invoices:read", "profile"},
	})
	id, secret := cl["id"].(string), cl["client_secret"].(string)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "rita", "password": "rita's long password"})

	status, tok := n.tokenCall(t, id, secret, url.Values{"grant_type": {"client_credentials"}, "resource": {invoicesAPI}})
	if status != http.StatusOK || tok["scope"] != "invoices:read" || tok["expires_in"] != 120.0 {
		t.Fatalf("client_credentials for invoices: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	if got, err := n.guard(t, invoicesAPI).Validate(ctx, access); err != nil || !got.HasScope("invoices:read") || got.HasScope("profile") {
		t.Fatalf("invoices refused its token: %v %+v", err, got)
	}
	if _, err := n.guard(t, reportsAPI).Validate(ctx, access); err == nil {
		t.Fatal("reports accepted a token for invoices")
	}
	// Introspection answers the aud as the token carries it.
	status, intro := n.formCall(t, "/introspect", id, secret, url.Values{"token": {access}})
	if aud, _ := intro["aud"].([]any); status != http.StatusOK || intro["active"] != true || len(aud) != 1 || aud[0] != invoicesAPI {
		t.Fatalf("introspection: %d %v", status, intro)
	}

	// No resource: the configured audience, as before.
	_, tok = n.tokenCall(t, id, secret, url.Values{"grant_type": {"client_credentials"}})
	if c, err := n.app.Issuer.Verify(tok["access_token"].(string)); err != nil || !slices.Equal([]string(c.Audience), []string{n.app.Config.Tokens.Audience}) || c.Scope != "invoices:read profile" {
		t.Fatalf("without resource: %+v %v", c, err)
	}

	// A family for both; each refresh picks, none widens.
	status, tok = n.tokenCall(t, id, secret, url.Values{"grant_type": {"password"}, "username": {"rita"}, "password": {"rita's long password"},
		"resource": {invoicesAPI, reportsAPI}})
	if status != http.StatusOK || tok["scope"] != "invoices:read profile" {
		t.Fatalf("password for both: %d %v", status, tok)
	}
	status, tok = n.tokenCall(t, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "resource": {reportsAPI}})
	if status != http.StatusOK || tok["scope"] != "profile" {
		t.Fatalf("narrowing refresh: %d %v", status, tok)
	}
	if _, err := n.guard(t, reportsAPI).Validate(ctx, tok["access_token"].(string)); err != nil {
		t.Fatalf("reports refused its token: %v", err)
	}
	if _, err := n.guard(t, invoicesAPI).Validate(ctx, tok["access_token"].(string)); err == nil {
		t.Fatal("invoices accepted a token narrowed to reports")
	}
	for _, bad := range []string{"https://elsewhere.example/", "relative/path", invoicesAPI + "#f"} {
		status, e := n.tokenCall(t, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "resource": {bad}})
		if status != http.StatusBadRequest || e["error"] != "invalid_target" {
			t.Fatalf("refresh for %q: %d %v", bad, status, e)
		}
	}

	// A deleted resource is no target from then on.
	n.admin(t, "DELETE", "/admin/resources?uri="+url.QueryEscape(invoicesAPI), nil)
	if status, e := n.tokenCall(t, id, secret, url.Values{"grant_type": {"client_credentials"}, "resource": {invoicesAPI}}); status != http.StatusBadRequest || e["error"] != "invalid_target" {
		t.Fatalf("after delete: %d %v", status, e)
	}
}

func TestResourceIndicatorsEmbedded(t *testing.T) {
	resourceFlow(t, startNode(t, nil))
}

func TestResourceIndicatorsRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	shared := func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.KeyEncryptionSecret = "a shared key encryption secret for both nodes"
	}
	a := startNode(t, shared)
	resourceFlow(t, a)

	// Two nodes: b has a resource cached; deleting it on a stops it on b
	// at once, well before b's cache entry would expire.
	b := startNode(t, shared)
	a.admin(t, "POST", "/admin/resources", map[string]any{"uri": invoicesAPI, "name": "Invoices", "scopes": []string{"invoices:read"}})
	cl := a.admin(t, "POST", "/admin/clients", map[string]any{"name": "two", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"}})
	id, secret := cl["id"].(string), cl["client_secret"].(string)
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {invoicesAPI}}
	if status, tok := b.tokenCall(t, id, secret, form); status != http.StatusOK {
		t.Fatalf("node b: %d %v", status, tok)
	}
	a.admin(t, "DELETE", "/admin/resources?uri="+url.QueryEscape(invoicesAPI), nil)
	deadline := time.Now().Add(3 * time.Second) // the cache would keep it 30 s
	for {
		status, e := b.tokenCall(t, id, secret, form)
		if status == http.StatusBadRequest && e["error"] == "invalid_target" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b still serves a resource deleted on node a: %d %v", status, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
