package grants_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
	"authserver/store"
	"authserver/tokens"
)

func TestDPoPClientCredentialsBindsToken(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k := newDPoPKey(t)

	r := h.postProof(t, ccForm(), id, secret, k.proof(t))
	h.wantDPoPToken(t, r, k.jkt)
	if r.header.Get("DPoP-Nonce") != "" {
		t.Fatal("DPoP-Nonce sent while nonces are off")
	}

	// Without a proof, everything as before.
	r = h.postProof(t, ccForm(), id, secret)
	wantToken(t, r)
	if c, err := h.issuer.Verify(r.str("access_token")); err != nil || c.Cnf != nil {
		t.Fatalf("Bearer token: cnf %+v, %v", c.Cnf, err)
	}
}

func TestDPoPProofReplayRefused(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k := newDPoPKey(t)
	p := k.proof(t)
	h.wantDPoPToken(t, h.postProof(t, ccForm(), id, secret, p), k.jkt)
	wantError(t, h.postProof(t, ccForm(), id, secret, p), http.StatusBadRequest, "invalid_dpop_proof")
	// A fresh proof of the same key is fine.
	h.wantDPoPToken(t, h.postProof(t, ccForm(), id, secret, k.proof(t)), k.jkt)
}

// Of 30 requests carrying one proof at once, exactly one gets a token.
func TestDPoPProofReplayConcurrent(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k := newDPoPKey(t)
	p := k.proof(t)
	const n = 30
	replies := make([]reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = h.tryPostProof(ccForm(), id, secret, p)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch {
		case r.status == http.StatusOK:
			won++
		case r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof":
			t.Fatalf("loser answered %d %v", r.status, r.body)
		}
	}
	if won != 1 {
		t.Fatalf("%d requests got a token with one proof, want exactly 1", won)
	}
}

// Each case breaks one rule; none gets a token.
func TestDPoPProofRefusals(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k, other := newDPoPKey(t), newDPoPKey(t)
	now := time.Now()
	cases := map[string][]string{
		// The URL the test server is reached at, as the Host header says:
		// not the token endpoint the issuer names.
		"htu of the Host header":  {k.proofFor(t, http.MethodPost, h.srv.URL+"/token", "", "", now)},
		"htu of another endpoint": {k.proofFor(t, http.MethodPost, "https://issuer.test/revoke", "", "", now)},
		"wrong htm":               {k.proofFor(t, http.MethodGet, tokenURL, "", "", now)},
		"stale iat":               {k.proofFor(t, http.MethodPost, tokenURL, "", "", now.Add(-5*time.Minute))},
		"iat in the future":       {k.proofFor(t, http.MethodPost, tokenURL, "", "", now.Add(5*time.Minute))},
		"signed by another key":   {k.forgedProof(t, other)},
		"two DPoP headers":        {k.proof(t), k.proof(t)},
		"not a JWT":               {"not-a-proof"},
		"an access token as proof": {func() string {
			r := h.postProof(t, ccForm(), id, secret)
			return r.str("access_token")
		}()},
	}
	for name, proofs := range cases {
		t.Run(name, func(t *testing.T) {
			r := h.postProof(t, ccForm(), id, secret, proofs...)
			wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
			if r.str("error_description") == "" || r.str("access_token") != "" {
				t.Fatalf("answer %v", r.body)
			}
		})
	}
}

// A refused proof burns no code: the exchange with a good proof still works.
func TestDPoPBadProofKeepsCode(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: codeAndRefresh, Scopes: []string{"read"}, RedirectURIs: []string{acRedirect}})
	u := h.user(t, "alice", "alice's password")
	code, err := h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: id, UserID: u.ID, RedirectURI: acRedirect, Scope: "read", CodeChallenge: challengeOf(acVerifier), AuthTime: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	k := newDPoPKey(t)
	stale := k.proofFor(t, http.MethodPost, tokenURL, "", "", time.Now().Add(-time.Hour))
	wantError(t, h.postProof(t, acForm(code, acVerifier), id, secret, stale), http.StatusBadRequest, "invalid_dpop_proof")
	h.wantDPoPToken(t, h.postProof(t, acForm(code, acVerifier), id, secret, k.proof(t)), k.jkt)
}

// publicDPoPSetup is a public client signed in with a DPoP proof: its
// refresh token is bound to the key (RFC 9449 §5).
type publicDPoPSetup struct {
	h       *harness
	id      string
	key     dpopKey
	refresh string
	audit   *lockedBuffer
}

func setupPublicDPoP(t *testing.T) publicDPoPSetup {
	t.Helper()
	log := &lockedBuffer{}
	h := newDPoPHarness(t, dpopOptions{audit: log})
	id, _ := h.client(t, clients.Registration{Public: true, GrantTypes: codeAndRefresh, Scopes: []string{"read"}, RedirectURIs: []string{acRedirect}})
	u := h.user(t, "bob", "bob's password!")
	code, err := h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: id, UserID: u.ID, RedirectURI: acRedirect, Scope: "read", CodeChallenge: challengeOf(acVerifier), AuthTime: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	k := newDPoPKey(t)
	r := h.postProof(t, acForm(code, acVerifier, "client_id", id), "", "", k.proof(t))
	h.wantDPoPToken(t, r, k.jkt)
	if r.str("refresh_token") == "" {
		t.Fatal("no refresh token")
	}
	return publicDPoPSetup{h: h, id: id, key: k, refresh: r.str("refresh_token"), audit: log}
}

func (s publicDPoPSetup) family(t *testing.T) tokens.Family {
	t.Helper()
	famID, ok := tokens.ParseRefreshToken(s.refresh)
	if !ok {
		t.Fatalf("refresh token %q does not parse", s.refresh)
	}
	f, err := s.h.store.GetFamily(context.Background(), famID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A stolen bound refresh token is useless without the key, and trying
// changes nothing: the owner's token stays current.
func TestDPoPStolenRefreshTokenRefused(t *testing.T) {
	s := setupPublicDPoP(t)
	if f := s.family(t); f.JKT != s.key.jkt {
		t.Fatalf("family jkt %q, want %q", f.JKT, s.key.jkt)
	}
	thief := newDPoPKey(t)
	form := rtForm(s.refresh, "client_id", s.id)
	wantError(t, s.h.postProof(t, form, "", ""), http.StatusBadRequest, "invalid_dpop_proof")
	wantError(t, s.h.postProof(t, form, "", "", thief.proof(t)), http.StatusBadRequest, "invalid_dpop_proof")
	f := s.family(t)
	if f.Generation != 0 || f.Revoked {
		t.Fatalf("refused refreshes changed the family: %+v", f)
	}
	if got := strings.Count(s.audit.String(), `"event":"dpop_key_mismatch"`); got != 2 ||
		!strings.Contains(s.audit.String(), `"family_id":"`+f.ID+`"`) {
		t.Fatalf("%d dpop_key_mismatch audit records, want 2 naming the family: %s", got, s.audit)
	}

	r := s.h.postProof(t, form, "", "", s.key.proof(t))
	s.h.wantDPoPToken(t, r, s.key.jkt)
	next := r.str("refresh_token")
	if next == "" || next == s.refresh {
		t.Fatalf("refresh token not rotated: %v", r.body)
	}
	// The successor is bound too.
	wantError(t, s.h.postProof(t, rtForm(next, "client_id", s.id), "", "", thief.proof(t)), http.StatusBadRequest, "invalid_dpop_proof")
	s.h.wantDPoPToken(t, s.h.postProof(t, rtForm(next, "client_id", s.id), "", "", s.key.proof(t)), s.key.jkt)
}

// A thief racing the owner: whatever the order, no thief request gets a
// token, and the owner's one refresh does.
func TestDPoPStolenRefreshTokenRace(t *testing.T) {
	s := setupPublicDPoP(t)
	thief := newDPoPKey(t)
	form := rtForm(s.refresh, "client_id", s.id)
	const thieves = 20
	proofs := make([]string, thieves)
	for i := range proofs {
		if i%2 == 0 {
			proofs[i] = thief.proof(t)
		}
	}
	owner := s.key.proof(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	replies := make([]reply, thieves)
	errs := make([]error, thieves+1)
	var ownerReply reply
	for i := range thieves {
		wg.Go(func() {
			<-start
			if proofs[i] == "" {
				replies[i], errs[i] = s.h.tryPostProof(form, "", "")
			} else {
				replies[i], errs[i] = s.h.tryPostProof(form, "", "", proofs[i])
			}
		})
	}
	wg.Go(func() { <-start; ownerReply, errs[thieves] = s.h.tryPostProof(form, "", "", owner) })
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range replies {
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
			t.Fatalf("thief got %d %v", r.status, r.body)
		}
	}
	s.h.wantDPoPToken(t, ownerReply, s.key.jkt)
}

// A confidential client's refresh tokens are not bound (§5); its access
// tokens are, to whichever key the request proves.
func TestDPoPConfidentialRefreshNotBound(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	h.user(t, "alice", "alice's password")
	k, other := newDPoPKey(t), newDPoPKey(t)
	r := h.postProof(t, pwForm("alice", "alice's password"), id, secret, k.proof(t))
	h.wantDPoPToken(t, r, k.jkt)
	famID, _ := tokens.ParseRefreshToken(r.str("refresh_token"))
	if f, err := h.store.GetFamily(context.Background(), famID); err != nil || f.JKT != "" {
		t.Fatalf("confidential family jkt %q, %v", f.JKT, err)
	}
	r = h.postProof(t, rtForm(r.str("refresh_token")), id, secret, other.proof(t))
	h.wantDPoPToken(t, r, other.jkt)
	wantToken(t, h.postProof(t, rtForm(r.str("refresh_token")), id, secret))
}

// A code whose authorization request sent dpop_jkt (§10) is exchanged only
// with a proof of that key.
func TestDPoPCodeBoundByDPoPJKT(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, _ := h.client(t, clients.Registration{Public: true, GrantTypes: codeAndRefresh, Scopes: []string{"read"}, RedirectURIs: []string{acRedirect}})
	u := h.user(t, "bob", "bob's password!")
	k, other := newDPoPKey(t), newDPoPKey(t)
	issue := func(jkt string) string {
		code, err := h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
			ClientID: id, UserID: u.ID, RedirectURI: acRedirect, Scope: "read", CodeChallenge: challengeOf(acVerifier),
			AuthTime: time.Now(), DPoPJKT: jkt,
		})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	form := func(code string) url.Values { return acForm(code, acVerifier, "client_id", id) }
	wantError(t, h.postProof(t, form(issue(k.jkt)), "", ""), http.StatusBadRequest, "invalid_dpop_proof")
	wantError(t, h.postProof(t, form(issue(k.jkt)), "", "", other.proof(t)), http.StatusBadRequest, "invalid_dpop_proof")
	h.wantDPoPToken(t, h.postProof(t, form(issue(k.jkt)), "", "", k.proof(t)), k.jkt)

	if _, err := h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: id, UserID: u.ID, RedirectURI: acRedirect, CodeChallenge: challengeOf(acVerifier), DPoPJKT: "not-a-thumbprint",
	}); err == nil {
		t.Fatal("IssueCode took a malformed dpop_jkt")
	}
}

// RFC 9449 §8: without the server's nonce a proof gets use_dpop_nonce and
// the nonce to retry with.
func TestDPoPNonceFlow(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{nonces: true})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k := newDPoPKey(t)

	r := h.postProof(t, ccForm(), id, secret, k.proof(t))
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	bad := k.proofFor(t, http.MethodPost, tokenURL, "", "made-up-nonce", time.Now())
	wantError(t, h.postProof(t, ccForm(), id, secret, bad), http.StatusBadRequest, "use_dpop_nonce")

	r = h.postProof(t, ccForm(), id, secret, k.proofFor(t, http.MethodPost, tokenURL, "", nonce, time.Now()))
	h.wantDPoPToken(t, r, k.jkt)
	if r.header.Get("DPoP-Nonce") == "" {
		t.Fatal("no DPoP-Nonce on success while nonces are on")
	}
	// A nonce does not make a bad proof good.
	stale := k.proofFor(t, http.MethodPost, tokenURL, "", nonce, time.Now().Add(-time.Hour))
	wantError(t, h.postProof(t, ccForm(), id, secret, stale), http.StatusBadRequest, "invalid_dpop_proof")
}

// RFC 9449 §6.2: introspection shows the binding.
func TestDPoPIntrospection(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k := newDPoPKey(t)
	bound := h.postProof(t, ccForm(), id, secret, k.proof(t)).str("access_token")
	plain := h.postProof(t, ccForm(), id, secret).str("access_token")
	e := &endpoints{harness: h, base: h.srv.URL}

	// Twice: the second answer comes from Issuer.Verify's cache.
	for range 2 {
		m := e.introspect(t, bound, "", id, secret)
		cnf, _ := m["cnf"].(map[string]any)
		if m["active"] != true || m["token_type"] != "DPoP" || cnf["jkt"] != k.jkt || len(cnf) != 1 {
			t.Fatalf("bound token introspected as %v", m)
		}
	}
	m := e.introspect(t, plain, "", id, secret)
	if m["active"] != true || m["token_type"] != "Bearer" || m["cnf"] != nil {
		t.Fatalf("bearer token introspected as %v", m)
	}
}

// A replay store that cannot answer is an outage: 503 with Retry-After,
// and no token.
func TestDPoPReplayStoreOutage(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{replay: failingReplay{}})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	r, _ := h.tryPostProof(ccForm(), id, secret, newDPoPKey(t).proof(t))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.str("error") != "temporarily_unavailable" {
		t.Fatalf("replay store down: %d %v %v", r.status, r.header, r.body)
	}
	// Requests without DPoP do not touch it.
	wantToken(t, h.postProof(t, ccForm(), id, secret))
}

type failingReplay struct{}

func (failingReplay) RememberOnce(context.Context, string, time.Time) (bool, error) {
	return false, store.Unavailable(errors.New("connection refused"))
}

// A full in-memory replay cache refuses (503) rather than forget a proof.
func TestDPoPReplayCacheFull(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{replay: grants.MemoryReplayStore(1)})
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	k := newDPoPKey(t)
	h.wantDPoPToken(t, h.postProof(t, ccForm(), id, secret, k.proof(t)), k.jkt)
	r, _ := h.tryPostProof(ccForm(), id, secret, k.proof(t))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("full cache: %d %v", r.status, r.body)
	}
}
