package grants_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"authserver/clients"
	"authserver/grants"
)

type oidcSetup struct {
	h          *harness
	id, secret string
	userID     string
	authTime   time.Time
}

// setupOIDC registers a client that may ask for openid, signing its ID
// Tokens with alg (empty: the default).
func setupOIDC(t *testing.T, alg string, tweak ...func(*grants.Config)) oidcSetup {
	t.Helper()
	h := newOIDCHarness(t, tweak...)
	id, secret := h.client(t, clients.Registration{
		GrantTypes: codeAndRefresh, Scopes: []string{"openid", "read"}, RedirectURIs: []string{acRedirect}, IDTokenAlg: alg,
	})
	u := h.user(t, "alice", "alice's password")
	return oidcSetup{h: h, id: id, secret: secret, userID: u.ID, authTime: time.Now().Add(-time.Hour).Truncate(time.Second)}
}

// redeem issues a code for scope and nonce as /authorize would, and
// redeems it.
func (s oidcSetup) redeem(t *testing.T, scope, nonce string) reply {
	t.Helper()
	code, err := s.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: s.id, UserID: s.userID, RedirectURI: acRedirect, Scope: scope,
		CodeChallenge: challengeOf(acVerifier), AuthTime: s.authTime, Nonce: nonce, SessionID: testSID,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.h.post(t, acForm(code, acVerifier), s.id, s.secret)
	wantToken(t, r)
	return r
}

// verify checks an ID Token as a relying party does: go-oidc, against the
// published JWKS, accepting only alg.
func (s oidcSetup) verify(t *testing.T, raw, alg string) *oidc.IDToken {
	t.Helper()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(s.h.keys.JWKS()) }))
	t.Cleanup(jwks.Close)
	ctx := context.Background()
	v := oidc.NewVerifier(s.h.issuer.URL(), oidc.NewRemoteKeySet(ctx, jwks.URL), &oidc.Config{ClientID: s.id, SupportedSigningAlgs: []string{alg}})
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("relying party rejects the ID Token: %v", err)
	}
	return tok
}

// header decodes a JWT's JOSE header.
func header(t *testing.T, raw string) map[string]string {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// testSID is the sid of the session the test codes come from.
const testSID = "c2Vzc2lvbi1vbmU"

type extraClaims struct {
	SessionID string `json:"sid"`
	AuthTime  int64  `json:"auth_time"`
	Nonce     string `json:"nonce"`
	Azp       string `json:"azp"`
}

func claimsOf(t *testing.T, tok *oidc.IDToken) extraClaims {
	t.Helper()
	var c extraClaims
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIDTokenClaims(t *testing.T) {
	s := setupOIDC(t, "")
	r := s.redeem(t, "openid read", "n-0S6_WzA2Mj")
	raw := r.str("id_token")
	if raw == "" {
		t.Fatalf("no id_token for a grant of openid: %v", r.body)
	}
	if h := header(t, raw); h["alg"] != "RS256" || h["typ"] != "JWT" || h["kid"] == "" {
		t.Fatalf("header %v: want RS256 by default, typ JWT, a kid", h)
	}
	tok := s.verify(t, raw, "RS256")
	c := claimsOf(t, tok)
	switch {
	case tok.Subject != s.userID:
		t.Errorf("sub %q, want the user %q", tok.Subject, s.userID)
	case len(tok.Audience) != 1 || tok.Audience[0] != s.id:
		t.Errorf("aud %v, want the client alone", tok.Audience)
	case c.Azp != "":
		t.Errorf("azp %q with a single audience", c.Azp)
	case tok.Nonce != "n-0S6_WzA2Mj":
		t.Errorf("nonce %q, want the request's", tok.Nonce)
	case c.AuthTime != s.authTime.Unix():
		t.Errorf("auth_time %d, want the sign-in time %d", c.AuthTime, s.authTime.Unix())
	case c.SessionID != testSID:
		t.Errorf("sid %q, want the session's %q", c.SessionID, testSID)
	case tok.Expiry.Sub(tok.IssuedAt) != testConfig().AccessTTL:
		t.Errorf("lifetime %v, want the access-token TTL", tok.Expiry.Sub(tok.IssuedAt))
	}
	if err := tok.VerifyAccessToken(r.str("access_token")); err != nil {
		t.Errorf("at_hash: %v", err)
	}
}

func TestIDTokenTTL(t *testing.T) {
	s := setupOIDC(t, "", func(c *grants.Config) { c.IDTokenTTL = 5 * time.Minute })
	tok := s.verify(t, s.redeem(t, "openid", "").str("id_token"), "RS256")
	if got := tok.Expiry.Sub(tok.IssuedAt); got != 5*time.Minute {
		t.Errorf("lifetime %v, want id_token_ttl 5m", got)
	}
}

func TestIDTokenWithoutNonce(t *testing.T) {
	s := setupOIDC(t, "")
	raw := s.redeem(t, "openid", "").str("id_token")
	payload := strings.Split(raw, ".")[1]
	b, _ := base64.RawURLEncoding.DecodeString(payload)
	if strings.Contains(string(b), `"nonce"`) {
		t.Errorf("nonce claim without a nonce in the request: %s", b)
	}
}

// A client chooses its alg; each is verifiable through JWKS, at_hash
// hashing per alg (SHA-512 for EdDSA).
func TestIDTokenClientAlg(t *testing.T) {
	s := setupOIDC(t, "")
	for _, alg := range []string{"ES256", "EdDSA"} {
		id, secret := s.h.client(t, clients.Registration{
			GrantTypes: codeAndRefresh, Scopes: []string{"openid"}, RedirectURIs: []string{acRedirect}, IDTokenAlg: alg,
		})
		c := s
		c.id, c.secret = id, secret
		r := c.redeem(t, "openid", "")
		if h := header(t, r.str("id_token")); h["alg"] != alg {
			t.Errorf("alg %s, want the client's %s", h["alg"], alg)
		}
		if err := c.verify(t, r.str("id_token"), alg).VerifyAccessToken(r.str("access_token")); err != nil {
			t.Errorf("%s at_hash: %v", alg, err)
		}
	}
	if _, _, err := s.h.clients.Create(context.Background(), clients.Registration{
		Name: "x", GrantTypes: codeAndRefresh, RedirectURIs: []string{acRedirect}, IDTokenAlg: "HS256",
	}); err == nil {
		t.Error("a client registered with id_token_signed_response_alg HS256")
	}
}

// A client that does not ask for openid sees plain OAuth, even when it
// may ask for it.
func TestNoIDTokenWithoutOpenID(t *testing.T) {
	s := setupOIDC(t, "")
	r := s.redeem(t, "read", "a nonce")
	if _, ok := r.body["id_token"]; ok {
		t.Fatalf("id_token without openid: %v", r.body)
	}
	next := s.h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret)
	wantToken(t, next)
	if _, ok := next.body["id_token"]; ok {
		t.Fatalf("id_token on refresh without openid: %v", next.body)
	}
}

// A code sent by another client is invalid_grant: no token of any kind.
func TestNoIDTokenForAnotherClientsCode(t *testing.T) {
	s := setupOIDC(t, "")
	other, otherSecret := s.h.client(t, clients.Registration{
		GrantTypes: codeAndRefresh, Scopes: []string{"openid"}, RedirectURIs: []string{acRedirect},
	})
	code, err := s.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: s.id, UserID: s.userID, RedirectURI: acRedirect, Scope: "openid",
		CodeChallenge: challengeOf(acVerifier), AuthTime: s.authTime, Nonce: "n",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.h.post(t, acForm(code, acVerifier), other, otherSecret)
	if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || r.body["id_token"] != nil {
		t.Fatalf("another client's code: %d %v", r.status, r.body)
	}
}

// Core §12.2: a refresh of a family granted openid returns an ID Token
// with the same sub, auth_time and sid, and no nonce; narrowing away openid
// drops it.
func TestRefreshIDToken(t *testing.T) {
	s := setupOIDC(t, "")
	first := s.redeem(t, "openid read", "n-1")
	r := s.h.post(t, rtForm(first.str("refresh_token")), s.id, s.secret)
	wantToken(t, r)
	tok := s.verify(t, r.str("id_token"), "RS256")
	if c := claimsOf(t, tok); tok.Subject != s.userID || c.AuthTime != s.authTime.Unix() || tok.Nonce != "" || c.SessionID != testSID {
		t.Errorf("refreshed ID Token sub %q auth_time %d nonce %q sid %q", tok.Subject, c.AuthTime, tok.Nonce, c.SessionID)
	}
	if err := tok.VerifyAccessToken(r.str("access_token")); err != nil {
		t.Errorf("at_hash of the new access token: %v", err)
	}
	narrowed := s.h.post(t, rtForm(r.str("refresh_token"), "scope", "read"), s.id, s.secret)
	wantToken(t, narrowed)
	if _, ok := narrowed.body["id_token"]; ok {
		t.Errorf("id_token after narrowing away openid: %v", narrowed.body)
	}
}

// An ID Token is never an access token: Verify refuses it (typ), and
// introspection calls it inactive.
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	h := newOIDCHarness(t)
	e := &endpoints{harness: h, base: serveAll(t, h.endpoint)}
	s := oidcSetup{h: h, authTime: time.Now().Truncate(time.Second)}
	s.id, s.secret = h.client(t, clients.Registration{
		GrantTypes: codeAndRefresh, Scopes: []string{"openid"}, RedirectURIs: []string{acRedirect}, IDTokenAlg: "ES256",
	})
	s.userID = h.user(t, "bob", "bob's password").ID
	raw := s.redeem(t, "openid", "").str("id_token")
	if _, err := h.issuer.Verify(raw); err == nil {
		t.Error("Issuer.Verify accepts an ID Token as an access token")
	}
	if got := e.introspect(t, raw, "", s.id, s.secret); got["active"] != false {
		t.Errorf("introspection of an ID Token: %v", got)
	}
}

// The password grant signs the user in with the request: with openid its
// answer carries an ID Token (auth_time now, no nonce), as its refreshes do.
func TestPasswordGrantIDToken(t *testing.T) {
	s := setupOIDC(t, "")
	id, secret := s.h.client(t, clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "read"}})
	s.id, s.secret = id, secret
	before := time.Now().Add(-time.Second).Unix()
	r := s.h.post(t, pwForm("alice", "alice's password", "scope", "openid"), id, secret)
	wantToken(t, r)
	tok := s.verify(t, r.str("id_token"), "RS256")
	if c := claimsOf(t, tok); tok.Subject != s.userID || c.AuthTime < before || tok.Nonce != "" || c.SessionID != "" {
		t.Errorf("password grant ID Token sub %q auth_time %d nonce %q sid %q (no session: none)", tok.Subject, c.AuthTime, tok.Nonce, c.SessionID)
	}
	plain := s.h.post(t, pwForm("alice", "alice's password", "scope", "read"), id, secret)
	wantToken(t, plain)
	if _, ok := plain.body["id_token"]; ok {
		t.Errorf("id_token without openid: %v", plain.body)
	}
}

// An id_token_hint is this issuer's ID Token for the client: expiry does
// not matter; another client, issuer or token type, or a bad signature do.
func TestVerifyIDTokenHint(t *testing.T) {
	h := newOIDCHarness(t)
	mint := func(i *grants.Issuer, clientID string) string {
		raw, err := i.MintIDToken(grants.IDToken{
			ClientID: clientID, UserID: "user-1", Alg: "RS256",
			IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour, // expired an hour ago
		})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	expired := mint(h.issuer, "client-a")
	if sub, err := h.issuer.VerifyIDTokenHint(expired, "client-a"); err != nil || sub != "user-1" {
		t.Fatalf("an expired hint: sub %q, %v", sub, err)
	}
	access, err := h.issuer.Mint(grants.Access{ClientID: "client-a", UserID: "user-1", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(expired, ".")
	for name, raw := range map[string]string{
		"another client's": mint(h.issuer, "client-b"),
		"another issuer's": mint(grants.NewIssuer("https://other.test", nil, h.keys), "client-a"),
		"an access token":  access,
		"a bad signature":  parts[0] + "." + parts[1] + "." + strings.Split(access, ".")[2],
		"garbage":          "a.b.c",
	} {
		if _, err := h.issuer.VerifyIDTokenHint(raw, "client-a"); err == nil {
			t.Errorf("%s hint accepted", name)
		}
	}
}

// TestPairwiseSubjects: a pairwise client's sub is an HMAC of its redirect
// host and the user (Core §8.1), the same for clients on one host, another
// for another host; a public client sees the user ID; UserInfo and logout
// tokens carry the ID Token's sub; the access token keeps the user ID.
func TestPairwiseSubjects(t *testing.T) {
	s := setupOIDC(t, "")
	h := s.h
	userinfo := httptest.NewServer(h.endpoint.UserInfoHandler())
	t.Cleanup(userinfo.Close)
	type rp struct{ id, secret, redirect string }
	newRP := func(subjectType, redirect string) rp {
		id, secret := h.client(t, clients.Registration{
			GrantTypes: codeAndRefresh, Scopes: []string{"openid", "read"}, RedirectURIs: []string{redirect}, SubjectType: subjectType,
		})
		return rp{id, secret, redirect}
	}
	sub := func(c rp) string {
		t.Helper()
		code, err := h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
			ClientID: c.id, UserID: s.userID, RedirectURI: c.redirect, Scope: "openid read",
			CodeChallenge: challengeOf(acVerifier), AuthTime: s.authTime,
		})
		if err != nil {
			t.Fatal(err)
		}
		form := acForm(code, acVerifier)
		form.Set("redirect_uri", c.redirect)
		r := h.post(t, form, c.id, c.secret)
		wantToken(t, r)
		tok := (oidcSetup{h: h, id: c.id}).verify(t, r.str("id_token"), "RS256")
		// UserInfo says what the ID Token says.
		req, _ := http.NewRequest(http.MethodGet, userinfo.URL, nil)
		req.Header.Set("Authorization", "Bearer "+r.str("access_token"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("userinfo %d: %v", resp.StatusCode, err)
		}
		if info["sub"] != tok.Subject {
			t.Errorf("client %s: userinfo sub %v, ID Token sub %q", c.id, info["sub"], tok.Subject)
		}
		// The access token is for resource servers: the user ID.
		if at, err := h.issuer.Verify(r.str("access_token")); err != nil || at.Subject != s.userID {
			t.Errorf("access token sub %v (%v), want the user ID", at, err)
		}
		return tok.Subject
	}
	a1 := newRP("pairwise", "https://a.example/cb")
	a2 := newRP("pairwise", "https://a.example:8443/other")
	b := newRP("pairwise", "https://b.example/cb")
	pub := newRP("public", "https://a.example/cb")
	subA1, subA2, subB, subPub := sub(a1), sub(a2), sub(b), sub(pub)
	switch {
	case subPub != s.userID:
		t.Errorf("public client sees %q, want the user ID %q", subPub, s.userID)
	case subA1 == s.userID || subB == s.userID:
		t.Errorf("a pairwise client sees the user ID")
	case subA1 != subA2:
		t.Errorf("clients on one host see %q and %q, want one sub", subA1, subA2)
	case subA1 == subB:
		t.Errorf("clients on two hosts see one sub %q", subA1)
	}
	// Another user on the same host: another sub.
	bob := h.user(t, "bob", "bob's long password")
	ca, err := h.clients.Lookup(context.Background(), a1.id)
	if err != nil {
		t.Fatal(err)
	}
	if h.issuer.Subject(ca, bob.ID) == subA1 {
		t.Error("two users share a pairwise sub")
	}
	// The logout token names the user as the ID Token does.
	lt, err := h.issuer.MintLogoutToken(ca, s.userID, "", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := strings.Cut(lt, ".")
	payload, _, _ = strings.Cut(payload, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var claims struct{ Sub string }
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub != subA1 {
		t.Errorf("logout token sub %q (%v), want %q", claims.Sub, err, subA1)
	}
	// An id_token_hint gives back the pairwise sub.
	hint, err := h.issuer.MintIDToken(grants.IDToken{ClientID: a1.id, UserID: s.userID, Subject: subA1, Alg: "RS256", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.issuer.VerifyIDTokenHint(hint, a1.id); err != nil || got != h.issuer.Subject(ca, s.userID) {
		t.Errorf("hint sub %q (%v), want %q", got, err, subA1)
	}
}
