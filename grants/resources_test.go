package grants_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
	"authserver/resource"
	"authserver/resources"
)

// Two APIs: photos accepts read (and shortens tokens to 5 minutes), mail
// accepts write and admin. unrelated is registered but granted to no one.
const (
	photosAPI    = "https://photos.example/"
	mailAPI      = "https://mail.example/api"
	unrelatedAPI = "https://unrelated.example/"
)

func (h *harness) registerResources(t *testing.T) {
	t.Helper()
	for _, r := range []resources.Resource{
		{ID: photosAPI, Name: "Photos", Scopes: []string{"read"}, AccessTokenTTL: 5 * time.Minute},
		{ID: mailAPI, Name: "Mail", Scopes: []string{"write", "admin"}},
		{ID: unrelatedAPI, Name: "Unrelated", Scopes: []string{"read", "write"}},
	} {
		if _, err := h.resources.Create(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// withResources adds resource parameters to a form.
func withResources(f url.Values, ids ...string) url.Values {
	f["resource"] = ids
	return f
}

// wantAccess asserts the answer's access token has exactly aud and scope,
// and that the answer's scope and expires_in agree with it.
func (h *harness) wantAccess(t *testing.T, r reply, aud []string, scope string, ttl time.Duration) {
	t.Helper()
	wantToken(t, r)
	claims, err := h.issuer.Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal([]string(claims.Audience), aud) || claims.Scope != scope || r.str("scope") != scope {
		t.Fatalf("aud %v scope %q (answer's %q), want aud %v scope %q", claims.Audience, claims.Scope, r.str("scope"), aud, scope)
	}
	if got := claims.ExpiresAt.Sub(claims.IssuedAt.Time); got != ttl {
		t.Fatalf("lifetime %v, want %v", got, ttl)
	}
	if exp, _ := r.body["expires_in"].(float64); time.Duration(exp)*time.Second != ttl {
		t.Fatalf("expires_in %v, want %v", r.body["expires_in"], ttl)
	}
}

// validatorFor is package resource configured as the API aud guards.
func (h *harness) validatorFor(t *testing.T, aud string) *resource.Validator {
	t.Helper()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(h.keys.JWKS()) }))
	t.Cleanup(jwks.Close)
	v, err := resource.New(resource.Config{Issuer: "https://issuer.test", Audience: aud, JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResourceClientCredentials(t *testing.T) {
	h := newHarness(t)
	h.registerResources(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}})

	photos := h.post(t, withResources(ccForm(), photosAPI), id, secret)
	h.wantAccess(t, photos, []string{photosAPI}, "read", 5*time.Minute)

	// The token for photos is good at photos and nowhere else.
	ctx := context.Background()
	if tok, err := h.validatorFor(t, photosAPI).Validate(ctx, photos.str("access_token")); err != nil || !tok.HasScope("read") || tok.HasScope("write") {
		t.Fatalf("photos refused its own token: %v %+v", err, tok)
	}
	if _, err := h.validatorFor(t, mailAPI).Validate(ctx, photos.str("access_token")); err == nil {
		t.Fatal("mail accepted a token minted for photos")
	}

	// Two resources: both in aud, each one's scopes, the shorter lifetime.
	both := h.post(t, withResources(ccForm(), photosAPI, mailAPI), id, secret)
	h.wantAccess(t, both, []string{photosAPI, mailAPI}, "read write", 5*time.Minute)
	// A scope narrowed at the request and then by the resource.
	h.wantAccess(t, h.post(t, withResources(ccForm("scope", "write"), mailAPI), id, secret), []string{mailAPI}, "write", 15*time.Minute)

	// No resource: exactly as before RFC 8707.
	h.wantAccess(t, h.post(t, ccForm(), id, secret), []string{"https://api.test"}, "read write", 15*time.Minute)
}

func TestResourceInvalidTarget(t *testing.T) {
	h := newHarness(t)
	h.registerResources(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"client_credentials", "password"}, Scopes: []string{"read", "write"}})
	h.user(t, "alice", "alice's password")
	for name, ids := range map[string][]string{
		"relative":          {"/api"},
		"no scheme":         {"photos.example/"},
		"fragment":          {photosAPI + "#x"},
		"empty fragment":    {photosAPI + "#"},
		"unregistered":      {"https://nope.example/"},
		"one of two":        {photosAPI, "https://nope.example/"},
		"empty":             {""},
		"registered, other": {strings.TrimSuffix(photosAPI, "/")}, // compared exactly
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, h.post(t, withResources(ccForm(), ids...), id, secret), http.StatusBadRequest, "invalid_target")
			wantError(t, h.post(t, withResources(pwForm("alice", "alice's password"), ids...), id, secret), http.StatusBadRequest, "invalid_target")
		})
	}
	// A resource that accepts none of the granted scopes leaves nothing to
	// grant: invalid_scope, before the password is checked.
	wantError(t, h.post(t, withResources(ccForm("scope", "read"), mailAPI), id, secret), http.StatusBadRequest, "invalid_scope")
	wantError(t, h.post(t, withResources(pwForm("alice", "wrong", "scope", "read"), mailAPI), id, secret), http.StatusBadRequest, "invalid_scope")
	// resource may repeat; nothing else may.
	f := withResources(ccForm(), photosAPI, photosAPI)
	h.wantAccess(t, h.post(t, f, id, secret), []string{photosAPI}, "read", 5*time.Minute)
	f["scope"] = []string{"read", "read"}
	wantError(t, h.post(t, f, id, secret), http.StatusBadRequest, "invalid_request")

	// A deleted resource is no target any more.
	if err := h.resources.Delete(context.Background(), photosAPI); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.post(t, withResources(ccForm(), photosAPI), id, secret), http.StatusBadRequest, "invalid_target")
}

func TestResourcePasswordAndRefresh(t *testing.T) {
	h := newHarness(t)
	h.registerResources(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}})
	h.user(t, "alice", "alice's password")

	r := h.post(t, withResources(pwForm("alice", "alice's password"), photosAPI, mailAPI), id, secret)
	h.wantAccess(t, r, []string{photosAPI, mailAPI}, "read write", 5*time.Minute)
	rt := r.str("refresh_token")

	// Widening is refused and leaves the token as it was.
	wantError(t, h.post(t, withResources(rtForm(rt), unrelatedAPI), id, secret), http.StatusBadRequest, "invalid_target")
	wantError(t, h.post(t, withResources(rtForm(rt), photosAPI, unrelatedAPI), id, secret), http.StatusBadRequest, "invalid_target")
	wantError(t, h.post(t, withResources(rtForm(rt), "not a uri"), id, secret), http.StatusBadRequest, "invalid_target")

	// Narrowing to one resource, then back to both: the family keeps what
	// was granted, each refresh picks from it.
	r = h.post(t, withResources(rtForm(rt), mailAPI), id, secret)
	h.wantAccess(t, r, []string{mailAPI}, "write", 15*time.Minute)
	r = h.post(t, rtForm(r.str("refresh_token")), id, secret)
	h.wantAccess(t, r, []string{photosAPI, mailAPI}, "read write", 5*time.Minute)
	// Scope and resource narrow together.
	r = h.post(t, withResources(rtForm(r.str("refresh_token"), "scope", "read"), photosAPI), id, secret)
	h.wantAccess(t, r, []string{photosAPI}, "read", 5*time.Minute)
	wantError(t, h.post(t, withResources(rtForm(r.str("refresh_token"), "scope", "read"), mailAPI), id, secret), http.StatusBadRequest, "invalid_scope")
	// ... and that refusal, like invalid_target, left the token unused.
	h.wantAccess(t, h.post(t, rtForm(r.str("refresh_token")), id, secret), []string{photosAPI, mailAPI}, "read write", 5*time.Minute)

	// A family granted without resources has none to narrow to.
	plain := h.post(t, pwForm("alice", "alice's password"), id, secret)
	h.wantAccess(t, plain, []string{"https://api.test"}, "read write", 15*time.Minute)
	wantError(t, h.post(t, withResources(rtForm(plain.str("refresh_token")), photosAPI), id, secret), http.StatusBadRequest, "invalid_target")
	h.wantAccess(t, h.post(t, rtForm(plain.str("refresh_token")), id, secret), []string{"https://api.test"}, "read write", 15*time.Minute)
}

func TestResourceCodeExchange(t *testing.T) {
	s := setupCode(t, codeAndRefresh)
	s.h.registerResources(t)
	issue := func(ids ...string) (code, verifier string) {
		verifier = strings.Repeat("v", 43)
		code, err := s.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
			ClientID: s.id, UserID: s.userID, RedirectURI: acRedirect, Scope: "read write",
			CodeChallenge: challengeOf(verifier), AuthTime: time.Now(), Resources: ids,
		})
		if err != nil {
			t.Fatal(err)
		}
		return code, verifier
	}
	exchange := func(code, verifier string, ids ...string) reply {
		return s.h.post(t, withResources(acForm(code, verifier), ids...), s.id, s.secret)
	}

	// None named: all of the code's.
	r := exchange(issue(photosAPI, mailAPI))
	s.h.wantAccess(t, r, []string{photosAPI, mailAPI}, "read write", 5*time.Minute)

	// A subset; the family still holds both.
	c, v := issue(photosAPI, mailAPI)
	r = exchange(c, v, photosAPI)
	s.h.wantAccess(t, r, []string{photosAPI}, "read", 5*time.Minute)
	r2 := s.h.post(t, withResources(rtForm(r.str("refresh_token")), mailAPI), s.id, s.secret)
	s.h.wantAccess(t, r2, []string{mailAPI}, "write", 15*time.Minute)
	wantError(t, s.h.post(t, withResources(rtForm(r2.str("refresh_token")), unrelatedAPI), s.id, s.secret), http.StatusBadRequest, "invalid_target")

	// A resource the code was not for, registered or not.
	c, v = issue(photosAPI)
	wantError(t, exchange(c, v, mailAPI), http.StatusBadRequest, "invalid_target")
	c, v = issue(photosAPI)
	wantError(t, exchange(c, v, photosAPI, mailAPI), http.StatusBadRequest, "invalid_target")
	c, v = issue()
	wantError(t, exchange(c, v, photosAPI), http.StatusBadRequest, "invalid_target")
	c, v = issue(photosAPI)
	wantError(t, exchange(c, v, photosAPI+"#f"), http.StatusBadRequest, "invalid_target")

	// No resources at either end: the client's audience, as before.
	s.h.wantAccess(t, exchange(issue()), []string{"https://api.test"}, "read write", 15*time.Minute)
}

// Concurrent refreshes of one token, each naming other resources: the
// rotation rules are the same as without resources (one wins, the rest
// are reuse and revoke the family), a refresh that would widen is
// invalid_target and consumes nothing, and the winner's token names only
// what it asked for, out of what the family holds.
func TestResourceConcurrentRefreshNeverWidens(t *testing.T) {
	h := newHarness(t)
	h.registerResources(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}})
	h.user(t, "alice", "alice's password")
	r := h.post(t, withResources(pwForm("alice", "alice's password"), photosAPI, mailAPI), id, secret)
	wantToken(t, r)
	rt := r.str("refresh_token")

	asks := [][]string{{photosAPI}, {mailAPI}, {photosAPI, mailAPI}, nil, {unrelatedAPI}, {mailAPI, unrelatedAPI}}
	const n = 20
	replies := make([]reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = h.tryPost(withResources(rtForm(rt), asks[i%len(asks)]...), id, secret)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		ask := asks[i%len(asks)]
		widening := slices.Contains(ask, unrelatedAPI)
		switch {
		case widening:
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_target" {
				t.Fatalf("a widening refresh got %d %v", r.status, r.body)
			}
		case r.status == http.StatusOK:
			wins++
			want := ask
			if want == nil {
				want = []string{photosAPI, mailAPI}
			}
			claims, err := h.issuer.Verify(r.str("access_token"))
			if err != nil || !slices.Equal([]string(claims.Audience), want) {
				t.Fatalf("winner asked %v, got aud %v (%v)", ask, claims.Audience, err)
			}
		default:
			if r.str("error") != "invalid_grant" {
				t.Fatalf("a losing refresh got %d %v", r.status, r.body)
			}
		}
	}
	if wins != 1 {
		t.Fatalf("%d refreshes won, want exactly 1", wins)
	}
}

// A grant's resources deleted since: named, invalid_target; when none is
// named they drop out, and with none left it is invalid_target.
func TestResourceDeletedFromAGrant(t *testing.T) {
	h := newHarness(t)
	h.registerResources(t)
	id, secret := h.client(t, clients.Registration{GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}})
	h.user(t, "alice", "alice's password")
	r := h.post(t, withResources(pwForm("alice", "alice's password"), photosAPI, mailAPI), id, secret)
	wantToken(t, r)
	ctx := context.Background()
	if err := h.resources.Delete(ctx, photosAPI); err != nil {
		t.Fatal(err)
	}
	rt := r.str("refresh_token")
	wantError(t, h.post(t, withResources(rtForm(rt), photosAPI), id, secret), http.StatusBadRequest, "invalid_target")
	r = h.post(t, rtForm(rt), id, secret)
	h.wantAccess(t, r, []string{mailAPI}, "write", 15*time.Minute)
	if err := h.resources.Delete(ctx, mailAPI); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.post(t, rtForm(r.str("refresh_token")), id, secret), http.StatusBadRequest, "invalid_target")
}

// The ID Token and the family's scope are not the access token's: openid
// stays granted though no resource accepts it.
func TestResourceLeavesIDTokenAlone(t *testing.T) {
	s := setupOIDC(t, "")
	if _, err := s.h.resources.Create(context.Background(), resources.Resource{ID: photosAPI, Name: "Photos", Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	code, err := s.h.endpoint.IssueCode(context.Background(), grants.CodeGrant{
		ClientID: s.id, UserID: s.userID, RedirectURI: acRedirect, Scope: "openid read",
		CodeChallenge: challengeOf(acVerifier), AuthTime: s.authTime, Nonce: "n-1", SessionID: testSID, Resources: []string{photosAPI},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.h.post(t, acForm(code, acVerifier), s.id, s.secret)
	s.h.wantAccess(t, r, []string{photosAPI}, "read", 15*time.Minute)
	if tok := s.verify(t, r.str("id_token"), "RS256"); tok.Nonce != "n-1" || !slices.Equal(tok.Audience, []string{s.id}) {
		t.Fatalf("ID Token %+v", tok)
	}
	// The family kept openid: the refresh answers an ID Token too.
	r = s.h.post(t, rtForm(r.str("refresh_token")), s.id, s.secret)
	s.h.wantAccess(t, r, []string{photosAPI}, "read", 15*time.Minute)
	if r.str("id_token") == "" {
		t.Fatal("a refresh of an openid family with resources lost its ID Token")
	}
	s.verify(t, r.str("id_token"), "RS256")
}
