package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/app"
	"authserver/app/apptest"
	"authserver/config"
	"authserver/store/redistest"
)

// node is one running server for a test.
type node struct {
	app      *app.App
	base     string // public URL
	adminURL string
}

// startNode runs a full server on loopback ports with cfg (mutated by
// tweak) until the test ends.
func startNode(t *testing.T, tweak func(*config.Config)) *node {
	t.Helper()
	return startNodeLog(t, tweak, slog.New(slog.DiscardHandler))
}

// startNodeLog is startNode with the node logging to log.
func startNodeLog(t *testing.T, tweak func(*config.Config), log *slog.Logger) *node {
	t.Helper()
	n := apptest.Start(t, func(cfg *config.Config) {
		cfg.Scopes = []string{"invoices:read", "invoices:write", "profile"}
		if tweak != nil {
			tweak(cfg)
		}
	}, log)
	return &node{app: n.App, base: n.Base, adminURL: n.AdminURL}
}

// admin calls the admin API and decodes the JSON answer.
func (n *node) admin(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.adminURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return out
}

// walkthrough is the README's five-minute walk, run with golang.org/x/oauth2
// as the client.
func walkthrough(t *testing.T, n *node) {
	ctx := context.Background()
	billing := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "billing", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"},
	})
	cc := clientcredentials.Config{
		ClientID: billing["id"].(string), ClientSecret: billing["client_secret"].(string),
		TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	claims := verify(t, n, tok.AccessToken)
	if claims.Subject != cc.ClientID || claims.Scope != "invoices:read" {
		t.Fatalf("client_credentials claims %+v", claims)
	}

	app := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"},
	})
	user := n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	conf := oauth2.Config{
		ClientID: app["id"].(string), ClientSecret: app["client_secret"].(string),
		Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "alice", "wrong password"); err == nil {
		t.Fatal("wrong password accepted")
	}
	tok, err = conf.PasswordCredentialsToken(ctx, "alice", "alice's long password")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || verify(t, n, tok.AccessToken).Subject != user["id"] {
		t.Fatalf("password token %+v", tok)
	}

	// A refreshing TokenSource: the access token lives 5 s, inside
	// x/oauth2's 10 s expiry margin, so every Token() call refreshes.
	src := conf.TokenSource(ctx, tok)
	seen := map[string]bool{tok.RefreshToken: true}
	for range 3 {
		next, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if seen[next.RefreshToken] {
			t.Fatal("refresh did not rotate the refresh token")
		}
		seen[next.RefreshToken] = true
	}
	// The first refresh token was rotated away: presenting it is reuse.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err == nil ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("reuse of a rotated refresh token: %v", err)
	}
	// ... and it revoked the family, so the newest token is dead too.
	if _, err := src.Token(); err == nil {
		t.Fatal("the family should be revoked after reuse")
	}
}

func verify(t *testing.T, n *node, token string) struct{ Subject, Scope string } {
	t.Helper()
	c, err := n.app.Issuer.Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	return struct{ Subject, Scope string }{c.Subject, c.Scope}
}

func shortAccess(c *config.Config) { c.Tokens.AccessTTL = 5 * time.Second }

func TestWalkthroughEmbedded(t *testing.T) {
	walkthrough(t, startNode(t, shortAccess))
}

func TestWalkthroughRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) { shortAccess(c); c.Redis.URL = r.URL() })
	walkthrough(t, n)

	// Access tokens are self-contained JWTs: issuing them writes nothing.
	rc := r.Client(t)
	billing := n.admin(t, "POST", "/admin/clients", map[string]any{"name": "count", "grant_types": []string{"client_credentials"}})
	before, err := rc.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: billing["id"].(string), ClientSecret: billing["client_secret"].(string), TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	for range 20 {
		if _, err := cc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := rc.DBSize(context.Background()).Result()
	if after != before {
		t.Fatalf("issuing access tokens wrote %d keys", after-before)
	}
}

// Two nodes on one Redis share keys, clients and refresh families: a token
// from one node refreshes on the other, and both publish the same JWKS.
func TestTwoNodesShareRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	shared := func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.KeyEncryptionSecret = "a shared key encryption secret for both nodes"
		c.Issuer, c.Tokens.Audience = "https://auth.example.test", "https://api.example.test"
	}
	a, b := startNode(t, shared), startNode(t, shared)
	cl := a.admin(t, "POST", "/admin/clients", map[string]any{"name": "m", "grant_types": []string{"password", "refresh_token"}})
	a.admin(t, "POST", "/admin/users", map[string]any{"username": "bob", "password": "bob's long password"})
	conf := func(n *node) oauth2.Config {
		return oauth2.Config{ClientID: cl["id"].(string), ClientSecret: cl["client_secret"].(string),
			Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	}
	ca, cb := conf(a), conf(b)
	tok, err := ca.PasswordCredentialsToken(context.Background(), "bob", "bob's long password")
	if err != nil {
		t.Fatal(err)
	}
	next, err := cb.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.app.Issuer.Verify(next.AccessToken); err != nil {
		t.Fatalf("a token from node b does not verify on node a: %v", err)
	}
	if !bytes.Equal(a.app.Keys.JWKS(), b.app.Keys.JWKS()) {
		t.Fatal("nodes publish different key sets")
	}

	// Both nodes cache client records; disabling the client on node a
	// stops it on node b at once, well before the cache would expire.
	a.admin(t, "POST", "/admin/clients/"+cl["id"].(string)+"/disable", nil)
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := cb.PasswordCredentialsToken(context.Background(), "bob", "bob's long password")
		if err != nil && strings.Contains(err.Error(), "invalid_client") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b still serves a client disabled on node a: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
