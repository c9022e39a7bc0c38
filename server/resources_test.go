package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"authserver/clients"
	"authserver/resources"
)

const invoicesAPI = "https://invoices.example/"

// RFC 8707 at /authorize: the resources travel with the code, and the
// exchange mints a token for exactly them with only their scopes.
func TestAuthorizeResourceIndicators(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	for _, r := range []resources.Resource{
		{ID: invoicesAPI, Name: "Invoices", Scopes: []string{"invoices:read"}},
		{ID: "https://profile-only.example/", Name: "Profile", Scopes: []string{"email"}},
	} {
		if _, err := s.resources.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	id, secret := s.app(t, clients.Registration{})
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)

	p := b.get(s.authURL(id, "scope", "profile invoices:read", "resource", invoicesAPI))
	p = b.signIn(p, s.srv.URL, "alice", "alice's long password")
	if !strings.Contains(p.body, "Use Invoices") || !strings.Contains(p.body, invoicesAPI) {
		t.Fatalf("the consent page should name the API the tokens are for: %s", p.body)
	}
	q := b.decide(p, s.srv.URL, "allow").location(t).Query()
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	status, tok := s.exchange(t, id, secret, q.Get("code"), testVerifier)
	if status != http.StatusOK || tok["scope"] != "invoices:read" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok["access_token"].(string), claims); err != nil {
		t.Fatal(err)
	}
	if aud, _ := claims.GetAudience(); !slices.Equal([]string(aud), []string{invoicesAPI}) || claims["scope"] != "invoices:read" {
		t.Fatalf("access token aud %v scope %v", aud, claims["scope"])
	}

	// Repeating resource is allowed (RFC 8707 §2); the consent is
	// remembered, so the code comes straight back.
	q = b.get(s.authURL(id, "scope", "profile invoices:read", "resource", invoicesAPI) + "&resource=" + url.QueryEscape(invoicesAPI)).location(t).Query()
	if q.Get("code") == "" {
		t.Fatalf("a repeated resource was refused: %v", q)
	}

	for name, tc := range map[string]struct{ extra, code string }{
		"relative":           {"&resource=%2Fapi", "invalid_target"},
		"fragment":           {"&resource=" + url.QueryEscape(invoicesAPI+"#x"), "invalid_target"},
		"unregistered":       {"&resource=" + url.QueryEscape("https://nope.example/"), "invalid_target"},
		"one unregistered":   {"&resource=" + url.QueryEscape(invoicesAPI) + "&resource=" + url.QueryEscape("https://nope.example/"), "invalid_target"},
		"not exact":          {"&resource=" + url.QueryEscape(strings.TrimSuffix(invoicesAPI, "/")), "invalid_target"},
		"no scope it takes":  {"&resource=" + url.QueryEscape("https://profile-only.example/"), "invalid_scope"},
		"other repeated one": {"&resource=" + url.QueryEscape(invoicesAPI) + "&scope=profile", "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			wantRedirectError(t, s, b.get(s.authURL(id, "scope", "profile invoices:read")+tc.extra), tc.code)
		})
	}

	// Before the client is known good nothing is redirected, resource or not.
	wantErrorPage(t, b.get(s.authURL(id, "redirect_uri", "https://evil.test/cb", "resource", "/api")), http.StatusBadRequest)
}

// Both discovery documents say resource indicators are supported.
func TestMetadataResourceIndicators(t *testing.T) {
	s := newStack(t)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := http.Get(s.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || doc["resource_indicators_supported"] != true {
			t.Fatalf("%s: resource_indicators_supported = %v (%v)", path, doc["resource_indicators_supported"], err)
		}
	}
}
