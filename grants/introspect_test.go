package grants_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/clients"
	"authserver/grants"
	"authserver/ratelimit"
	"authserver/store/embedded"
	"authserver/tokens"
)

// mint signs an access token with the harness's key through iss.
func mint(t *testing.T, iss *grants.Issuer, clientID, sub string, created time.Time, ttl time.Duration) string {
	t.Helper()
	tok, err := iss.Mint(grants.Access{ClientID: clientID, UserID: sub, Scope: "read", IssuedAt: created, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// expiredAccess is a genuine access token of the client that expired an
// hour ago.
func (h *harness) expiredAccess(t *testing.T, clientID string) string {
	return mint(t, h.issuer, clientID, "", time.Now().Add(-2*time.Hour), time.Hour)
}

// The claims an access token carries are what introspection reports, for
// every grant that issues one.
func TestIntrospectAccessTokens(t *testing.T) {
	e := newEndpoints(t)
	app, appSecret := e.client(t, clients.Registration{
		GrantTypes: []string{"password", "refresh_token", "client_credentials", "authorization_code"},
		Scopes:     []string{"read", "write"}, RedirectURIs: []string{acRedirect}, Audience: []string{"https://api.one", "https://api.two"},
	})
	rs, rsSecret := e.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	u := e.user(t, "alice", "alice's password")

	pw := e.token(t, pwForm("alice", "alice's password"), app, appSecret)
	code, err := e.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: app, UserID: u.ID, RedirectURI: acRedirect, Scope: "read",
		CodeChallenge: challengeOf(acVerifier), AuthTime: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{
		"client_credentials": e.token(t, ccForm("scope", "write"), app, appSecret).str("access_token"),
		"password":           pw.str("access_token"),
		"refresh_token":      e.token(t, rtForm(pw.str("refresh_token")), app, appSecret).str("access_token"),
		"authorization_code": e.token(t, acForm(code, acVerifier), app, appSecret).str("access_token"),
	}
	for kind, at := range kinds {
		t.Run(kind, func(t *testing.T) {
			c, err := e.issuer.Verify(at)
			if err != nil {
				t.Fatal(err)
			}
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				m := e.introspect(t, at, hint, rs, rsSecret)
				want := map[string]any{
					"active": true, "scope": c.Scope, "client_id": app, "sub": c.Subject, "iss": "https://issuer.test",
					"exp": float64(c.ExpiresAt.Unix()), "iat": float64(c.IssuedAt.Unix()), "token_type": "Bearer", "jti": c.ID,
				}
				for k, v := range want {
					if m[k] != v {
						t.Errorf("%s = %v, want %v", k, m[k], v)
					}
				}
				aud, _ := m["aud"].([]any)
				if len(aud) != 2 || aud[0] != "https://api.one" || aud[1] != "https://api.two" {
					t.Errorf("aud = %v", m["aud"])
				}
				if len(m) != len(want)+1 {
					t.Errorf("unexpected members in %v", m)
				}
			}
			if kind != "client_credentials" && c.Subject != u.ID {
				t.Errorf("sub %q, want the user", c.Subject)
			}
		})
	}
}

func TestIntrospectRefreshToken(t *testing.T) {
	s := setupRevoke(t)
	_, rt := s.signIn(t)
	fam, _ := tokens.ParseRefreshToken(rt)
	f, err := s.store.GetFamily(context.Background(), fam)
	if err != nil {
		t.Fatal(err)
	}
	m := s.introspect(t, rt, "refresh_token", s.app, s.appSecret)
	want := map[string]any{
		"active": true, "scope": "read write", "client_id": s.app, "sub": f.UserID, "iss": "https://issuer.test",
		"exp": float64(f.IdleExpiresAt.Unix()), "iat": float64(f.CreatedAt.Unix()), "token_type": "refresh_token", "jti": fam,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("unexpected members in %v", m)
	}
	// A wrong hint still finds it.
	wantActive(t, s.introspect(t, rt, "access_token", s.app, s.appSecret))

	// Bound to its client: for anyone else (a resource server included)
	// it is not a live token.
	wantInactive(t, s.introspect(t, rt, "", s.rs, s.rsSecret))
	wantInactive(t, s.introspect(t, rt, "", s.other, s.otherSecret))

	// Introspection is a read: asking many times rotates and revokes nothing.
	r, ok := s.refreshWorks(t, rt)
	if !ok {
		t.Fatalf("refresh after introspection: %v", r.body)
	}
	next := r.str("refresh_token")
	wantInactive(t, s.introspect(t, rt, "", s.app, s.appSecret)) // rotated away
	wantActive(t, s.introspect(t, next, "", s.app, s.appSecret))
	if f, _ := s.store.GetFamily(context.Background(), fam); f.Revoked {
		t.Fatal("introspecting a rotated token revoked the family")
	}

	// Reuse detection revokes the family: the newest token is inactive too.
	s.refreshWorks(t, rt)
	wantInactive(t, s.introspect(t, next, "", s.app, s.appSecret))
}

// Anything that is not a live token of ours is {"active": false}.
func TestIntrospectInactive(t *testing.T) {
	s := setupRevoke(t)
	at, rt := s.signIn(t)
	good, err := s.issuer.Verify(at)
	if err != nil {
		t.Fatal(err)
	}
	kid := func() string {
		tok, _, _ := jwt.NewParser().ParseUnverified(at, jwt.MapClaims{})
		return tok.Header["kid"].(string)
	}()
	claims := jwt.MapClaims{
		"iss": "https://issuer.test", "sub": good.Subject, "aud": "https://api.test", "client_id": s.app,
		"scope": "read write admin", "jti": "forged", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}
	sign := func(m jwt.SigningMethod, key any, typ string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["typ"], tok.Header["kid"] = typ, kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	real := s.keys.SigningKey()
	noIss := jwt.MapClaims{}
	noExp := jwt.MapClaims{}
	for k, v := range claims {
		if k != "iss" {
			noIss[k] = v
		}
		if k != "exp" {
			noExp[k] = v
		}
	}
	fam, _ := tokens.ParseRefreshToken(rt)
	wrongSecret, _ := tokens.NewRefreshToken(fam)
	randomRT, _ := tokens.NewRefreshToken(tokens.NewFamilyID())
	cases := map[string]string{
		"garbage":                    "not a token",
		"long garbage":               strings.Repeat("x", 10000),
		"three dots":                 "a.b.c",
		"broken signature":           at[:len(at)-4] + "AAAA",
		"expired":                    s.expiredAccess(t, s.app),
		"another key, same kid":      sign(jwt.SigningMethodES256, otherKey, "at+jwt", claims),
		"alg none":                   sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "at+jwt", claims),
		"HS256 with a guessable key": sign(jwt.SigningMethodHS256, []byte(kid), "at+jwt", claims),
		"not an access token (typ)":  sign(real.Method, real.Private, "JWT", claims),
		"no typ":                     sign(real.Method, real.Private, "", claims),
		"no iss":                     sign(real.Method, real.Private, "at+jwt", noIss),
		"no exp":                     sign(real.Method, real.Private, "at+jwt", noExp),
		"another issuer":             mint(t, grants.NewIssuer("https://evil.test", nil, s.keys), s.app, "", time.Now(), time.Hour),
		"refresh: wrong secret":      wrongSecret,
		"refresh: unknown family":    randomRT,
		"refresh: padded":            rt + "A",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				wantInactive(t, s.introspect(t, tok, hint, s.app, s.appSecret))
			}
		})
	}
	// The control: the same signing path with good claims is active.
	wantActive(t, s.introspect(t, sign(real.Method, real.Private, "at+jwt", claims), "", s.rs, s.rsSecret))

	// A denied jti is inactive.
	if err := s.store.DenyJTI(context.Background(), good.ID, good.ExpiresAt.Time); err != nil {
		t.Fatal(err)
	}
	wantInactive(t, s.introspect(t, at, "", s.rs, s.rsSecret))
	// And the wrong-secret lookup left the family alone.
	if _, ok := s.refreshWorks(t, rt); !ok {
		t.Fatal("introspection of a wrong refresh token revoked the family")
	}
}

// RFC 7662 §2.1: only clients that authenticate with a secret may ask.
func TestIntrospectRequiresConfidentialClient(t *testing.T) {
	s := setupRevoke(t)
	at, _ := s.signIn(t)
	pub, _ := s.client(t, clients.Registration{Public: true, GrantTypes: codeAndRefresh, RedirectURIs: []string{acRedirect}})
	r := send(t, s.base, "/introspect", map[string][]string{"token": {at}}, pub, "")
	if r.status != 401 || !strings.Contains(r.body, "invalid_client") || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("public client: %d %s", r.status, r.body)
	}
	if strings.Contains(r.body, s.app) || strings.Contains(r.body, "active") {
		t.Fatalf("a refused introspection leaks: %s", r.body)
	}
	// Naming a confidential client without its secret is no better.
	r = send(t, s.base, "/introspect", map[string][]string{"token": {at}}, s.rs, "")
	if r.status != 401 {
		t.Fatalf("confidential client without secret: %d %s", r.status, r.body)
	}
}

// countingStore counts the token-state calls the endpoint makes.
type countingStore struct {
	*embedded.Store
	denyLookups, familyCalls atomic.Int32
}

func (c *countingStore) IsDenied(ctx context.Context, jti string) (bool, error) {
	c.denyLookups.Add(1)
	return c.Store.IsDenied(ctx, jti)
}

func (c *countingStore) LookupRefresh(ctx context.Context, id string, h []byte, now time.Time) (tokens.Family, error) {
	c.familyCalls.Add(1)
	return c.Store.LookupRefresh(ctx, id, h, now)
}

func (c *countingStore) GetFamily(ctx context.Context, id string) (tokens.Family, error) {
	c.familyCalls.Add(1)
	return c.Store.GetFamily(ctx, id)
}

// Introspecting an access token costs a signature check and one deny-list
// lookup; a refresh token one family read.
func TestIntrospectCost(t *testing.T) {
	s := setupRevoke(t)
	at, rt := s.signIn(t)
	cs := &countingStore{Store: s.store}
	counted := grants.NewEndpoint(testConfig(), grants.Deps{
		Clients: s.clients, Users: s.users, Families: cs, Codes: cs, Deny: cs,
		Limiter: ratelimit.New(s.store), Issuer: s.issuer, Revoker: s.endpointRevoker(), Chain: testChain,
	})
	base := serveAll(t, counted)
	e := &endpoints{harness: s.harness, base: base}
	for _, hint := range []string{"", "access_token", "refresh_token"} {
		cs.denyLookups.Store(0)
		cs.familyCalls.Store(0)
		wantActive(t, e.introspect(t, at, hint, s.rs, s.rsSecret))
		if d, f := cs.denyLookups.Load(), cs.familyCalls.Load(); d != 1 || f != 0 {
			t.Errorf("access token (hint %q): %d deny-list lookups and %d family reads, want 1 and 0", hint, d, f)
		}
		cs.denyLookups.Store(0)
		cs.familyCalls.Store(0)
		wantActive(t, e.introspect(t, rt, hint, s.app, s.appSecret))
		if d, f := cs.denyLookups.Load(), cs.familyCalls.Load(); d != 0 || f != 1 {
			t.Errorf("refresh token (hint %q): %d deny-list lookups and %d family reads, want 0 and 1", hint, d, f)
		}
	}
}
