package grants_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
	"authserver/tokens"
)

func rtForm(token string, extra ...string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

type refreshSetup struct {
	h                    *harness
	id, secret           string
	otherID, otherSecret string
	first                string
}

func setupRefresh(t *testing.T, tweak ...func(*grants.Config)) refreshSetup {
	h := newHarness(t, tweak...)
	s := refreshSetup{h: h}
	reg := clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}}
	s.id, s.secret = h.client(t, reg)
	s.otherID, s.otherSecret = h.client(t, reg)
	h.user(t, "alice", "alice's password")
	r := h.post(t, pwForm("alice", "alice's password"), s.id, s.secret)
	wantToken(t, r)
	s.first = r.str("refresh_token")
	return s
}

func TestRefreshRotates(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	r := h.post(t, rtForm(s.first), s.id, s.secret)
	wantToken(t, r)
	second := r.str("refresh_token")
	if second == "" || second == s.first {
		t.Fatal("refresh must rotate the refresh token")
	}
	if r.str("scope") != "read write" {
		t.Fatalf("scope %q", r.str("scope"))
	}
	wantToken(t, h.post(t, rtForm(second), s.id, s.secret))
	wantError(t, h.post(t, rtForm("not-a-token"), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, rtForm(""), s.id, s.secret), http.StatusBadRequest, "invalid_request")
}

// RFC 9700 §4.14.2: presenting a rotated token revokes the whole family,
// including the newest token and its access token.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	r := h.post(t, rtForm(s.first), s.id, s.secret)
	wantToken(t, r)
	newest, newestAccess := r.str("refresh_token"), r.str("access_token")

	wantError(t, h.post(t, rtForm(s.first), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, rtForm(newest), s.id, s.secret), http.StatusBadRequest, "invalid_grant")

	claims, err := h.issuer.Verify(newestAccess)
	if err != nil {
		t.Fatal(err)
	}
	denied, err := h.store.IsDenied(context.Background(), claims.ID)
	if err != nil || !denied {
		t.Fatalf("the family's newest access token should be denied: %v %v", denied, err)
	}
}

// go-oauth2 lets any client refresh any token. Here the token is bound to
// its client: another client's valid credentials get invalid_grant, a wrong
// secret gets invalid_client, and neither consumes the token.
func TestRefreshBoundToClient(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	wantError(t, h.post(t, rtForm(s.first), s.otherID, s.otherSecret), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, rtForm(s.first), s.id, "wrong secret"), http.StatusUnauthorized, "invalid_client")
	wantError(t, h.post(t, rtForm(s.first, "client_id", s.id), "", ""), http.StatusUnauthorized, "invalid_client")
	wantToken(t, h.post(t, rtForm(s.first), s.id, s.secret))
}

// go-oauth2 lets a refresh widen the scope. Here it may only narrow, and
// the family keeps its original scope.
func TestRefreshScopeNarrowsNeverWidens(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	wantError(t, h.post(t, rtForm(s.first, "scope", "read admin"), s.id, s.secret), http.StatusBadRequest, "invalid_scope")
	wantError(t, h.post(t, rtForm(s.first, "scope", "read offline_access"), s.id, s.secret), http.StatusBadRequest, "invalid_scope")

	r := h.post(t, rtForm(s.first, "scope", "read"), s.id, s.secret) // the refused requests did not consume it
	wantToken(t, r)
	if r.str("scope") != "read" {
		t.Fatalf("narrowed scope %q", r.str("scope"))
	}
	r = h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret)
	wantToken(t, r)
	if r.str("scope") != "read write" {
		t.Fatalf("the family keeps its scope, got %q", r.str("scope"))
	}
}

// raceRefresh sends n refreshes of one token at once and returns every
// answer; goroutines only collect, the test goroutine asserts.
func raceRefresh(t *testing.T, h *harness, token, id, secret string, n int) []reply {
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
			r, err := h.tryPost(rtForm(token), id, secret)
			results <- result{r, err}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	var out []reply
	for res := range results {
		if res.err != nil {
			t.Fatalf("a concurrent refresh: %v", res.err)
		}
		out = append(out, res.r)
	}
	return out
}

// go-oauth2 rotates in three separate calls, so concurrent refreshes of
// one token all succeed. Here exactly one wins and the others are reuse,
// which must kill what the winner got: the family is revoked, the
// winner's new refresh token is refused and its access token denied.
func TestRefreshConcurrentRotationOneWinner(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	const n = 20
	var wins []reply
	for _, r := range raceRefresh(t, h, s.first, s.id, s.secret, n) {
		switch {
		case r.status == http.StatusOK:
			wins = append(wins, r)
		case r.status == http.StatusBadRequest && r.str("error") == "invalid_grant":
		default:
			t.Fatalf("unexpected answer %d %v", r.status, r.body)
		}
	}
	if len(wins) != 1 {
		t.Fatalf("%d refreshes of one token succeeded, want exactly 1", len(wins))
	}
	win := wins[0]
	wantToken(t, win)
	fid, _, _ := strings.Cut(s.first, ".")
	f, err := h.store.GetFamily(context.Background(), fid)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Revoked {
		t.Fatal("the losers' reuse did not revoke the family")
	}
	if f.LastJTI != h.accessJTI(t, win.str("access_token")) {
		t.Fatal("the family's newest jti is not the winner's")
	}
	wantError(t, h.post(t, rtForm(win.str("refresh_token")), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	h.wantDenied(t, "the winner's access token after the losers' reuse", win.str("access_token"))
}

// A lost answer retried: the retry is given the very successor the first
// request made (and an access token with the same jti, so revoking the
// family denies both), as often as it comes within the window and until
// that successor is used; after that the old token is reuse again.
func TestRefreshRetryIsIdempotent(t *testing.T) {
	s := setupRefresh(t, func(c *grants.Config) { c.RefreshGrace = time.Minute })
	h := s.h
	lost := h.post(t, rtForm(s.first), s.id, s.secret) // this answer is "lost"
	wantToken(t, lost)
	for range 3 {
		r := h.post(t, rtForm(s.first), s.id, s.secret)
		wantToken(t, r)
		if r.str("refresh_token") != lost.str("refresh_token") {
			t.Fatal("a retry within the grace window got another refresh token than the lost answer")
		}
		if h.accessJTI(t, r.str("access_token")) != h.accessJTI(t, lost.str("access_token")) {
			t.Fatal("a retry's access token has another jti than the lost one's")
		}
	}
	next := h.post(t, rtForm(lost.str("refresh_token")), s.id, s.secret)
	wantToken(t, next)
	// The successor was used: the first token is no longer a retry.
	wantError(t, h.post(t, rtForm(s.first), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, rtForm(next.str("refresh_token")), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	h.wantDenied(t, "the newest access token after reuse", next.str("access_token"))
}

// Many copies of one request at once (a client retrying while its first
// attempt is still in flight): every one gets the same successor, and the
// family lives on.
func TestRefreshConcurrentRetries(t *testing.T) {
	s := setupRefresh(t, func(c *grants.Config) { c.RefreshGrace = time.Minute })
	h := s.h
	const n = 30
	got := make([]reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range got {
		wg.Go(func() {
			<-start
			got[i] = h.post(t, rtForm(s.first), s.id, s.secret)
		})
	}
	close(start)
	wg.Wait()
	for _, r := range got {
		wantToken(t, r)
		if r.str("refresh_token") != got[0].str("refresh_token") {
			t.Fatal("concurrent retries got different successors")
		}
	}
	wantToken(t, h.post(t, rtForm(got[0].str("refresh_token")), s.id, s.secret))
}

func TestRefreshRetryAfterGraceRevokes(t *testing.T) {
	s := setupRefresh(t, func(c *grants.Config) { c.RefreshGrace = time.Minute })
	h := s.h
	now := time.Now().Add(-2 * time.Minute) // every token issued is in the past for the verifier
	h.endpoint.SetClock(func() time.Time { return now })
	lost := h.post(t, rtForm(s.first), s.id, s.secret)
	wantToken(t, lost)
	now = now.Add(30 * time.Second)
	retried := h.post(t, rtForm(s.first), s.id, s.secret)
	wantToken(t, retried)
	now = now.Add(31 * time.Second) // a minute after the rotation: retries do not move the window
	wantError(t, h.post(t, rtForm(s.first), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, rtForm(lost.str("refresh_token")), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	// Both answers' access tokens share one jti, so revoking the family
	// denies the one the client never saw as well as the retry's.
	h.wantDenied(t, "the lost answer's access token", lost.str("access_token"))
	h.wantDenied(t, "the retry's access token", retried.str("access_token"))
}

// The store lost rotations the client was told of (a failover of
// asynchronous replication): the client's token, two generations ahead
// of the store, is the head of its chain and refreshes; the token the
// store still holds is then reuse.
func TestRefreshRecoversRotationsTheStoreLost(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	ctx := context.Background()
	fam, _, _ := strings.Cut(s.first, ".")
	f, err := h.store.GetFamily(ctx, fam)
	if err != nil {
		t.Fatal(err)
	}
	// A family the store holds at its first token, whose next two
	// rotations were answered and then lost.
	f.ID = tokens.NewFamilyID()
	t0, h0 := tokens.NewRefreshToken(f.ID)
	if err := h.store.CreateFamily(ctx, f, h0); err != nil {
		t.Fatal(err)
	}
	t1 := testChain.Next(f.ID, 0, t0)
	t2 := testChain.Next(f.ID, t1.Generation, t1.Token)
	r := h.post(t, rtForm(t2.Token), s.id, s.secret)
	wantToken(t, r)
	if r.str("refresh_token") != testChain.Next(f.ID, t2.Generation, t2.Token).Token {
		t.Fatal("the recovered chain did not go on from the client's token")
	}
	wantToken(t, h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret))
	wantError(t, h.post(t, rtForm(t0), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	if got, _ := h.store.GetFamily(ctx, f.ID); !got.Revoked {
		t.Fatal("the stale token did not revoke the family")
	}
}

// A successor-form token is only ever the server's: one with a bad MAC
// (a forged generation to fake a lost rotation) is refused and changes
// nothing.
func TestRefreshForgedSuccessorRefused(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	r := h.post(t, rtForm(s.first), s.id, s.secret)
	wantToken(t, r)
	cur := r.str("refresh_token")
	parts := strings.Split(cur, ".")
	for _, forged := range []string{
		strings.Join([]string{parts[0], "9", parts[2], parts[3]}, "."), // a later generation
		strings.Join([]string{parts[0], parts[1], parts[2], strings.Repeat("A", len(parts[3]))}, "."),
	} {
		wantError(t, h.post(t, rtForm(forged), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
	}
	wantToken(t, h.post(t, rtForm(cur), s.id, s.secret)) // the family is untouched
}

// A user may hold many families (one per device); reuse on one device does
// not sign the other out.
func TestRefreshFamiliesAreIndependent(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	r := h.post(t, pwForm("alice", "alice's password"), s.id, s.secret)
	wantToken(t, r)
	laptop := r.str("refresh_token")
	if strings.Split(laptop, ".")[0] == strings.Split(s.first, ".")[0] {
		t.Fatal("a second sign-in must start a new family")
	}
	wantToken(t, h.post(t, rtForm(s.first), s.id, s.secret))
	wantError(t, h.post(t, rtForm(s.first), s.id, s.secret), http.StatusBadRequest, "invalid_grant") // phone family revoked
	wantToken(t, h.post(t, rtForm(laptop), s.id, s.secret))
}

func TestRefreshClientLosingGrant(t *testing.T) {
	s := setupRefresh(t)
	h := s.h
	if _, err := h.clients.SetDisabled(context.Background(), s.id, true); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.post(t, rtForm(s.first), s.id, s.secret), http.StatusUnauthorized, "invalid_client")
}

// A family that a revocation did not list (one created while the
// revocation ran) is still refused at its next refresh, and revoked then:
// the refresh checks the user's and the client's current generations. The
// generations are moved on directly here, without the Revoker revoking the
// families, which is exactly the state such a race leaves.
func TestRefreshRefusesFamiliesOutlivingARevocation(t *testing.T) {
	for _, who := range []string{"user", "client"} {
		t.Run(who, func(t *testing.T) {
			s := setupRefresh(t)
			h := s.h
			ctx := context.Background()
			var err error
			if who == "user" {
				u, _ := h.users.Authenticate(ctx, "alice", "alice's password")
				err = h.users.EndUserGeneration(ctx, u.ID)
			} else {
				err = h.clients.EndClientGeneration(ctx, s.id)
			}
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, h.post(t, rtForm(s.first), s.id, s.secret), http.StatusBadRequest, "invalid_grant")
			fid, _, _ := strings.Cut(s.first, ".")
			if f, err := h.store.GetFamily(ctx, fid); err != nil || !f.Revoked {
				t.Fatalf("the refused family is not revoked: %+v, %v", f, err)
			}
			// A new sign-in is a new generation's and works.
			r := h.post(t, pwForm("alice", "alice's password"), s.id, s.secret)
			wantToken(t, r)
			wantToken(t, h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret))
		})
	}
}
