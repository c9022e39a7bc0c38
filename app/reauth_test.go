package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcLogin is a go-oidc relying party that checks each ID Token it gets:
// signature, iss, aud, exp and its nonce.
type oidcLogin struct {
	t        *testing.T
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	pages    *pages
}

// start opens an authorization request with a fresh nonce and PKCE and
// follows it to a page or back to the client.
func (l *oidcLogin) start(opts ...oauth2.AuthCodeOption) (answer, string, string) {
	pkce, nonce := oauth2.GenerateVerifier(), "nonce-"+oauth2.GenerateVerifier()
	opts = append(opts, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce))
	return l.pages.follow(l.pages.do(http.MethodGet, l.conf.AuthCodeURL("st", opts...), nil)), nonce, pkce
}

// finish redeems the code a back sent to the client, verifies the ID
// Token and returns its auth_time and raw form.
func (l *oidcLogin) finish(back answer, nonce, pkce string) (int64, string) {
	l.t.Helper()
	tok, err := l.conf.Exchange(context.Background(), callback(l.t, back).Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		l.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idTok, err := l.verifier.Verify(context.Background(), raw)
	if err != nil {
		l.t.Fatalf("go-oidc rejects the ID Token: %v", err)
	}
	if idTok.Nonce != nonce {
		l.t.Fatalf("nonce %q, want %q", idTok.Nonce, nonce)
	}
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idTok.Claims(&c); err != nil || c.AuthTime == 0 {
		l.t.Fatalf("no auth_time: %v", err)
	}
	return c.AuthTime, raw
}

func isSignInAnswer(a answer) bool {
	return a.status == http.StatusOK && strings.Contains(a.body, `name="password"`)
}

// Through real HTTP and go-oidc: a silent prompt=none keeps the sign-in
// time, prompt=login and max_age=0 ask for the password again and move
// auth_time on.
func TestOpenIDReauthentication(t *testing.T) {
	n := startNode(t, oidcScopes)
	provider, err := oidc.NewProvider(context.Background(), n.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "rp", "grant_types": []string{"authorization_code"},
		"scopes": []string{"openid", "profile"}, "redirect_uris": []string{rpRedirect},
	})
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "dora", "password": "dora's long password"})
	l := &oidcLogin{t: t, pages: newPages(t, n.base), conf: oauth2.Config{
		ClientID: c["id"].(string), ClientSecret: c["client_secret"].(string), RedirectURL: rpRedirect,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"},
	}}
	l.verifier = provider.Verifier(&oidc.Config{ClientID: l.conf.ClientID})
	password := url.Values{"username": {"dora"}, "password": {"dora's long password"}}

	a, nonce, pkce := l.start()
	a = l.pages.submit(a, password)
	authTime, hint := l.finish(l.pages.submit(a, url.Values{"decision": {"allow"}}), nonce, pkce)

	for _, reauth := range []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("prompt", "login"),
		oauth2.SetAuthURLParam("max_age", "0"),
	} {
		time.Sleep(1100 * time.Millisecond) // auth_time is in seconds
		a, nonce, pkce = l.start(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint))
		if silent, _ := l.finish(a, nonce, pkce); silent != authTime {
			t.Fatalf("prompt=none: auth_time %d, want the sign-in's %d", silent, authTime)
		}
		a, nonce, pkce = l.start(reauth)
		if !isSignInAnswer(a) {
			t.Fatalf("%v did not show the sign-in page: %d %s", reauth, a.status, a.header.Get("Location"))
		}
		fresh, _ := l.finish(l.pages.submit(a, password), nonce, pkce)
		if fresh <= authTime {
			t.Fatalf("%v: auth_time %d did not move on from %d", reauth, fresh, authTime)
		}
		authTime = fresh
	}
}
