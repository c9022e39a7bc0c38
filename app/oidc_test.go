package app_test

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"authserver/config"
	"authserver/store/redistest"
)

const rpRedirect = "https://rp.test/callback"

// relyingParty signs alice in through a client registered with alg (empty:
// the default) and verifies what it gets as go-oidc does: discovery, JWKS,
// nonce, at_hash; then a refresh, whose ID Token keeps sub and auth_time.
// A pairwise client (subjectType) sees a sub that is not the user ID, in
// its ID Tokens and UserInfo alike.
func relyingParty(t *testing.T, n *node, provider *oidc.Provider, alg, subjectType string) {
	t.Helper()
	ctx := context.Background()
	reg := map[string]any{
		"name": "rp " + alg, "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"openid", "profile"}, "redirect_uris": []string{rpRedirect},
	}
	if alg != "" {
		reg["id_token_signed_response_alg"] = alg
	}
	if subjectType != "" {
		reg["subject_type"] = subjectType
	}
	c := n.admin(t, "POST", "/admin/clients", reg)
	if want := cmp.Or(subjectType, "public"); c["subject_type"] != want {
		t.Fatalf("admin API shows subject_type %v, want %s", c["subject_type"], want)
	}
	wantAlg := alg
	if wantAlg == "" {
		wantAlg = "RS256"
	}
	if c["id_token_signed_response_alg"] != wantAlg {
		t.Fatalf("admin API shows id_token_signed_response_alg %v, want %s", c["id_token_signed_response_alg"], wantAlg)
	}
	conf := oauth2.Config{
		ClientID: c["id"].(string), ClientSecret: c["client_secret"].(string), RedirectURL: rpRedirect,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: conf.ClientID})
	username := "user-" + strings.ToLower(wantAlg)
	u := n.admin(t, "POST", "/admin/users", map[string]any{"username": username, "password": username + "'s long password",
		"name": "User " + wantAlg})

	pkce, nonce := oauth2.GenerateVerifier(), "nonce-"+oauth2.GenerateVerifier()
	p := newPages(t, n.base)
	signedInBefore := time.Now().Add(-time.Second)
	a := p.follow(p.do(http.MethodGet, conf.AuthCodeURL("st", oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), nil))
	a = p.submit(a, url.Values{"username": {username}, "password": {username + "'s long password"}})
	a = p.submit(a, url.Values{"decision": {"allow"}})
	tok, err := conf.Exchange(ctx, callback(t, a).Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idTok, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the %s ID Token: %v", wantAlg, err)
	}
	switch pairwise := subjectType == "pairwise"; {
	case idTok.Nonce != nonce:
		t.Errorf("nonce %q, want %q", idTok.Nonce, nonce)
	case !pairwise && idTok.Subject != u["id"]:
		t.Errorf("sub %q, want the user ID %q", idTok.Subject, u["id"])
	case pairwise && (idTok.Subject == u["id"] || idTok.Subject == ""):
		t.Errorf("pairwise sub %q, want one that is not the user ID", idTok.Subject)
	}
	if err := idTok.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	// go-oidc's own UserInfo call: the claims the profile scope releases,
	// for the ID Token's subject.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("go-oidc UserInfo: %v", err)
	}
	var profile struct {
		Name string `json:"name"`
	}
	if err := info.Claims(&profile); err != nil || info.Subject != idTok.Subject || profile.Name != "User "+wantAlg {
		t.Errorf("userinfo sub %q name %q (%v), want %q %q", info.Subject, profile.Name, err, idTok.Subject, "User "+wantAlg)
	}
	var first struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idTok.Claims(&first); err != nil || first.AuthTime < signedInBefore.Unix() || first.AuthTime > time.Now().Unix() {
		t.Errorf("auth_time %d is not the sign-in time (%v)", first.AuthTime, err)
	}

	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = refreshed.Extra("id_token").(string)
	again, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the refreshed ID Token: %v", err)
	}
	var next struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := again.Claims(&next); err != nil || again.Subject != idTok.Subject || next.AuthTime != first.AuthTime || again.Nonce != "" {
		t.Errorf("refreshed ID Token sub %q auth_time %d nonce %q (%v)", again.Subject, next.AuthTime, again.Nonce, err)
	}
}

// go-oidc as a real relying party against a node: discovery, then the
// code flow through the sign-in pages, for the default RS256, a client
// that chose EdDSA and a pairwise one.
func openIDProvider(t *testing.T, n *node) {
	provider, err := oidc.NewProvider(context.Background(), n.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var claims struct {
		Algs     []string `json:"id_token_signing_alg_values_supported"`
		Subjects []string `json:"subject_types_supported"`
	}
	if err := provider.Claims(&claims); err != nil || strings.Join(claims.Algs, " ") != "RS256 ES256 EdDSA" {
		t.Fatalf("id_token_signing_alg_values_supported %v (%v)", claims.Algs, err)
	}
	if strings.Join(claims.Subjects, " ") != "public pairwise" {
		t.Fatalf("subject_types_supported %v", claims.Subjects)
	}
	relyingParty(t, n, provider, "", "")
	relyingParty(t, n, provider, "EdDSA", "public")
	relyingParty(t, n, provider, "ES256", "pairwise")
}

func TestOpenIDProviderEmbedded(t *testing.T) {
	openIDProvider(t, startNode(t, oidcScopes))
}

func TestOpenIDProviderRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	openIDProvider(t, startNode(t, func(c *config.Config) { oidcScopes(c); c.Redis.URL = r.URL() }))
}
