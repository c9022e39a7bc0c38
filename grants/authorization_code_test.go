package grants_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
)

const (
	acRedirect = "https://app.test/callback"
	// An RFC 7636 Appendix B style verifier and its S256 challenge.
	acVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func challengeOf(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func acForm(code, verifier string, extra ...string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {acRedirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

type codeSetup struct {
	h          *harness
	id, secret string
	userID     string
}

func setupCode(t *testing.T, grantTypes []string, tweak ...func(*grants.Config)) codeSetup {
	t.Helper()
	h := newHarness(t, tweak...)
	id, secret := h.client(t, clients.Registration{
		GrantTypes: grantTypes, Scopes: []string{"read", "write"}, RedirectURIs: []string{acRedirect},
	})
	u := h.user(t, "alice", "alice's password")
	return codeSetup{h: h, id: id, secret: secret, userID: u.ID}
}

// issue mints a code as the authorization endpoint would after consent.
func (s codeSetup) issue(t *testing.T, challenge string) string {
	t.Helper()
	code, err := s.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: s.id, UserID: s.userID, RedirectURI: acRedirect, Scope: "read",
		CodeChallenge: challenge, AuthTime: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

var codeAndRefresh = []string{"authorization_code", "refresh_token"}

func TestAuthorizationCodeExchange(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	code := s.issue(t, challengeOf(acVerifier))
	if len(code) < 43 {
		t.Fatalf("code %q carries fewer than 256 bits", code)
	}
	r := s.h.post(t, acForm(code, acVerifier), s.id, s.secret)
	wantToken(t, r)
	if r.str("refresh_token") == "" || r.str("scope") != "read" {
		t.Fatalf("answer %v", r.body)
	}
	claims, err := s.h.issuer.Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != s.userID || claims.ClientID != s.id || claims.Scope != "read" {
		t.Fatalf("claims %+v", claims)
	}
	next := s.h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret)
	wantToken(t, next)
	if next.str("scope") != "read" {
		t.Fatalf("refreshed scope %q", next.str("scope"))
	}
}

// RFC 6749 §4.1.2: a code used twice is refused, and what its first
// redemption issued is revoked: the refresh token (even after rotation)
// and the access tokens, whose jti are denied.
func TestAuthorizationCodeReplayRevokes(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	h := s.h
	code := s.issue(t, challengeOf(acVerifier))
	first := h.post(t, acForm(code, acVerifier), s.id, s.secret)
	wantToken(t, first)
	rotated := h.post(t, rtForm(first.str("refresh_token")), s.id, s.secret)
	wantToken(t, rotated)

	wantError(t, h.post(t, acForm(code, acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")

	wantError(t, h.post(t, rtForm(rotated.str("refresh_token")), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	for _, access := range []string{first.str("access_token"), rotated.str("access_token")} {
		claims, err := h.issuer.Verify(access)
		if err != nil {
			t.Fatal(err)
		}
		denied, err := h.store.IsDenied(context.Background(), claims.ID)
		if err != nil || !denied {
			t.Fatalf("access token %s of the replayed code should be denied: %v %v", claims.ID, denied, err)
		}
	}
}

// A client that gets no refresh token has no family to revoke: the replay
// still denies the access token the first redemption issued.
func TestAuthorizationCodeReplayWithoutRefresh(t *testing.T) {
	s := setupCode(t, []string{"authorization_code"})
	code := s.issue(t, challengeOf(acVerifier))
	first := s.h.post(t, acForm(code, acVerifier), s.id, s.secret)
	wantToken(t, first)
	if first.str("refresh_token") != "" {
		t.Fatal("a client without the refresh_token grant got a refresh token")
	}
	wantError(t, s.h.post(t, acForm(code, acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	s.h.wantDenied(t, "after the replay", first.str("access_token"))
}

// race sends n redemptions of one code at once. Goroutines only collect
// answers; the test goroutine asserts.
func (s codeSetup) race(t *testing.T, code string, n int) (wins []reply) {
	t.Helper()
	type result struct {
		r   reply
		err error
	}
	results := make(chan result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			r, err := s.h.tryPost(acForm(code, acVerifier), s.id, s.secret)
			results <- result{r, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	for res := range results {
		r := res.r
		switch {
		case res.err != nil:
			t.Fatalf("a concurrent redemption: %v", res.err)
		case r.status == http.StatusOK:
			wins = append(wins, r)
		case r.status == http.StatusBadRequest && r.str("error") == "invalid_grant":
		default:
			t.Fatalf("unexpected answer %d %v", r.status, r.body)
		}
	}
	return wins
}

// go-oauth2 redeems with get-then-delete, so a raced code gives several
// tokens. Here exactly one redemption wins, and the other 19 are replays
// that deny what it issued.
func TestAuthorizationCodeConcurrentRedemption(t *testing.T) {
	s := setupCode(t, []string{"authorization_code"})
	wins := s.race(t, s.issue(t, challengeOf(acVerifier)), 20)
	if len(wins) != 1 {
		t.Fatalf("%d redemptions of one code succeeded, want exactly 1", len(wins))
	}
	wantToken(t, wins[0])
	s.h.wantDenied(t, "the winner's access token after the replays", wins[0].str("access_token"))
}

// With refresh tokens the replays may even get in before the winner starts
// its family. Still exactly one request wins, and whatever it got is dead
// once the replays are done: no refresh token works and the access token is
// denied.
func TestAuthorizationCodeConcurrentRedemptionRefresh(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	wins := s.race(t, s.issue(t, challengeOf(acVerifier)), 20)
	if len(wins) != 1 {
		t.Fatalf("%d redemptions of one code succeeded, want exactly 1", len(wins))
	}
	wantToken(t, wins[0])
	if wins[0].str("refresh_token") == "" {
		t.Fatal("the winner got no refresh token")
	}
	wantError(t, s.h.post(t, rtForm(wins[0].str("refresh_token")), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	s.h.wantDenied(t, "the winner's access token after the replays", wins[0].str("access_token"))
}

// Every binding of the code is checked after it is consumed: a failed
// check burns it, so the right request cannot follow a wrong one.
func TestAuthorizationCodeBindingsBurnTheCode(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	h := s.h
	otherID, otherSecret := h.client(t, clients.Registration{
		GrantTypes: codeAndRefresh, Scopes: []string{"read"}, RedirectURIs: []string{acRedirect},
	})
	cases := []struct {
		name       string
		form       url.Values
		id, secret string
	}{
		{"wrong verifier", acForm("", "wrong-verifier-wrong-verifier-wrong-verifier-x"), s.id, s.secret},
		{"malformed verifier", acForm("", "short"), s.id, s.secret},
		{"missing verifier", acForm("", ""), s.id, s.secret},
		{"another client", acForm("", acVerifier), otherID, otherSecret},
		{"different redirect URI", acForm("", acVerifier, "redirect_uri", "https://app.test/other"), s.id, s.secret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code := s.issue(t, challengeOf(acVerifier))
			tc.form.Set("code", code)
			// A 400 invalid_grant, never go-oauth2's 500 for a missing verifier.
			wantError(t, h.post(t, tc.form, tc.id, tc.secret), http.StatusBadRequest, "invalid_grant")
			wantError(t, h.post(t, acForm(code, acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
		})
	}
}

// RFC 7636 §4.6: the server hashes the verifier and compares it with the
// challenge; it never compares the two strings (that is the plain method,
// refused). So the challenge itself, which travels in the front channel, is
// no verifier: sending it is invalid_grant and burns the code, and the
// right verifier afterwards fails too. The second case is plain seen from
// the client's side: a challenge made equal to its verifier.
func TestAuthorizationCodeChallengeIsNoVerifier(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	h := s.h
	t.Run("S256 challenge sent as the verifier", func(t *testing.T) {
		code := s.issue(t, challengeOf(acVerifier))
		wantError(t, h.post(t, acForm(code, challengeOf(acVerifier)), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
		wantError(t, h.post(t, acForm(code, acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("plain: challenge equal to the verifier", func(t *testing.T) {
		code := s.issue(t, acVerifier) // 43 base64url characters: shaped like an S256 challenge
		wantError(t, h.post(t, acForm(code, acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	})
}

func TestAuthorizationCodeRefusals(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	h := s.h
	clock := &fakeClock{t: time.Now()}
	h.endpoint.SetClock(clock.now)
	wantError(t, h.post(t, acForm("not-a-code", acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, acForm("", acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_request")
	code := s.issue(t, challengeOf(acVerifier))
	noRedirect := acForm(code, acVerifier)
	noRedirect.Del("redirect_uri")
	wantError(t, h.post(t, noRedirect, s.id, s.secret), http.StatusBadRequest, "invalid_request")
	wantError(t, h.post(t, acForm(code, acVerifier), s.id, "wrong secret"), http.StatusUnauthorized, "invalid_client")

	// A code lives CodeTTL and not an instant longer.
	lastMoment, expired := s.issue(t, challengeOf(acVerifier)), s.issue(t, challengeOf(acVerifier))
	clock.add(testConfig().CodeTTL - time.Nanosecond)
	wantToken(t, h.post(t, acForm(lastMoment, acVerifier), s.id, s.secret))
	clock.add(time.Nanosecond)
	wantError(t, h.post(t, acForm(expired, acVerifier), s.id, s.secret), http.StatusBadRequest, "invalid_grant")

	ccID, ccSecret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}})
	wantError(t, h.post(t, acForm(code, acVerifier), ccID, ccSecret), http.StatusBadRequest, "unauthorized_client")
}

// PKCE policy: a verifier for a code issued without a challenge is refused
// (RFC 9700 §2.1.1); a confidential client may go without PKCE only when
// the config relaxes it; IssueCode refuses a malformed challenge.
func TestAuthorizationCodePKCEPolicy(t *testing.T) {
	relaxed := setupCode(t, codeAndRefresh, func(c *grants.Config) { c.RequirePKCEConfidential = false })
	wantToken(t, relaxed.h.post(t, acForm(relaxed.issue(t, ""), ""), relaxed.id, relaxed.secret))
	wantError(t, relaxed.h.post(t, acForm(relaxed.issue(t, ""), acVerifier), relaxed.id, relaxed.secret), http.StatusBadRequest, "invalid_grant")

	strict := setupCode(t, codeAndRefresh)
	c, err := strict.h.clients.Get(context.Background(), strict.id)
	if err != nil {
		t.Fatal(err)
	}
	if !strict.h.endpoint.PKCERequired(c) {
		t.Fatal("PKCE must be required of confidential clients by default")
	}
	wantError(t, strict.h.post(t, acForm(strict.issue(t, ""), ""), strict.id, strict.secret), http.StatusBadRequest, "invalid_grant")

	_, err = strict.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: strict.id, UserID: strict.userID, RedirectURI: acRedirect, CodeChallenge: acVerifier + "!",
	})
	if err == nil {
		t.Fatal("IssueCode accepted a malformed challenge")
	}
	if grants.ValidS256Challenge("plain-challenge") || !grants.ValidS256Challenge(challengeOf(acVerifier)) {
		t.Fatal("ValidS256Challenge")
	}
}

// A public client redeems with its client_id and the verifier alone.
func TestAuthorizationCodePublicClient(t *testing.T) {
	h := newHarness(t)
	id, _ := h.client(t, clients.Registration{
		Public: true, GrantTypes: codeAndRefresh, Scopes: []string{"read"}, RedirectURIs: []string{acRedirect},
	})
	u := h.user(t, "bob", "bob's password!")
	code, err := h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: id, UserID: u.ID, RedirectURI: acRedirect, Scope: "read", CodeChallenge: challengeOf(acVerifier),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := h.post(t, acForm(code, acVerifier, "client_id", id), "", "")
	wantToken(t, r)
	if r.str("refresh_token") == "" {
		t.Fatal("no refresh token for a public client allowed refresh_token")
	}
}
