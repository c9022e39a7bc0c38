package grants_test

import (
	"context"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
)

// issueScope mints a code for scope, as the authorization endpoint would.
func issueScope(t *testing.T, s codeSetup, scope string) string {
	t.Helper()
	code, err := s.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: s.id, UserID: s.userID, RedirectURI: acRedirect, Scope: scope,
		CodeChallenge: challengeOf(acVerifier), AuthTime: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func setupOffline(t *testing.T, tweak ...func(*grants.Config)) codeSetup {
	t.Helper()
	h := newHarness(t, tweak...)
	id, secret := h.client(t, clients.Registration{
		GrantTypes: codeAndRefresh, Scopes: []string{"read", "offline_access"}, RedirectURIs: []string{acRedirect},
	})
	u := h.user(t, "alice", "alice's password")
	return codeSetup{h: h, id: id, secret: secret, userID: u.ID}
}

// By default a client allowed refresh_token gets a refresh token whether or
// not offline_access was granted (the MCP SDK never asks for it).
func TestRefreshWithoutOfflineAccessByDefault(t *testing.T) {
	s := setupOffline(t)
	r := s.h.post(t, acForm(issueScope(t, s, "read"), acVerifier), s.id, s.secret)
	wantToken(t, r)
	if r.str("refresh_token") == "" {
		t.Fatalf("no refresh token without offline_access under the default: %v", r.body)
	}
}

// Required: no offline_access, no refresh token; with it, one.
func TestOfflineAccessForRefresh(t *testing.T) {
	s := setupOffline(t, func(c *grants.Config) { c.OfflineAccessForRefresh = true })
	r := s.h.post(t, acForm(issueScope(t, s, "read"), acVerifier), s.id, s.secret)
	wantToken(t, r)
	if r.str("refresh_token") != "" {
		t.Fatalf("a refresh token without offline_access: %v", r.body)
	}
	r = s.h.post(t, acForm(issueScope(t, s, "read offline_access"), acVerifier), s.id, s.secret)
	wantToken(t, r)
	if r.str("refresh_token") == "" {
		t.Fatalf("no refresh token with offline_access granted: %v", r.body)
	}
	wantToken(t, s.h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret))
}
