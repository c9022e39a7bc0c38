package resource_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"authserver/resource"
)

func stubValidator(t *testing.T, as *stubAS, clk *clock) *resource.Validator {
	t.Helper()
	return validator(t, resource.Config{Issuer: stubIssuer, Audience: photosAPI, JWKSURL: as.srv.URL, Now: clk.Now})
}

// 50 concurrent requests with an unknown kid share one refetch; more
// within 10 s cause none; after that, one more finds a newly published key.
func TestUnknownKidConcurrentRefetch(t *testing.T) {
	k1, k2 := newKey(t, "k1", "ES256"), newKey(t, "k2", "ES256")
	as := newStubAS(t, k1)
	clk := newClock()
	v := stubValidator(t, as, clk)
	ctx := context.Background()
	if _, err := v.Validate(ctx, mint(t, k1, claims(clk.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	if as.hits.Load() != 1 {
		t.Fatalf("%d fetches, want 1", as.hits.Load())
	}
	clk.Advance(11 * time.Second)
	as.set(func(s *stubAS) { s.delay = 50 * time.Millisecond })
	unknown := mint(t, k2, claims(clk.Now()), nil)
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() { _, errs[i] = v.Validate(ctx, unknown) })
	}
	wg.Wait()
	for _, err := range errs {
		refused(t, err, resource.ErrUnknownKey)
	}
	if got := as.hits.Load(); got != 2 {
		t.Fatalf("%d fetches after 50 concurrent unknown kids, want 2", got)
	}
	// Within the interval nothing is fetched, even for a key now published.
	as.set(func(s *stubAS) { s.keys, s.delay = append(s.keys, k2), 0 })
	clk.Advance(5 * time.Second)
	_, err := v.Validate(ctx, unknown)
	refused(t, err, resource.ErrUnknownKey)
	if as.hits.Load() != 2 {
		t.Fatalf("fetched within the refetch interval")
	}
	clk.Advance(6 * time.Second)
	if _, err := v.Validate(ctx, unknown); err != nil {
		t.Fatal(err)
	}
	if as.hits.Load() != 3 {
		t.Fatalf("%d fetches, want 3", as.hits.Load())
	}
}

// The set is refreshed after the issuer's max-age, clamped to at least a
// minute; when refreshing fails the old keys keep working.
func TestJWKSCacheControl(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	as.set(func(s *stubAS) { s.cacheControl = "public, max-age=120" })
	clk := newClock()
	v := stubValidator(t, as, clk)
	ctx := context.Background()
	check := func(wantHits int32) {
		t.Helper()
		if _, err := v.Validate(ctx, mint(t, k, claims(clk.Now()), nil)); err != nil {
			t.Fatal(err)
		}
		if got := as.hits.Load(); got != wantHits {
			t.Fatalf("%d fetches, want %d", got, wantHits)
		}
	}
	check(1)
	clk.Advance(119 * time.Second)
	check(1)
	clk.Advance(2 * time.Second)
	as.set(func(s *stubAS) { s.cacheControl = "max-age=1" })
	check(2)
	clk.Advance(30 * time.Second) // max-age=1 counts as a minute
	check(2)
	clk.Advance(31 * time.Second)
	as.set(func(s *stubAS) { s.status = 500 })
	check(3) // stale keys still verify
	clk.Advance(5 * time.Second)
	check(3) // and the failed fetch is not retried at once
}

// A set that cannot be fetched at all is not the token's fault.
func TestJWKSUnavailable(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	as.set(func(s *stubAS) { s.status = 503 })
	clk := newClock()
	v := stubValidator(t, as, clk)
	_, err := v.Validate(context.Background(), mint(t, k, claims(clk.Now()), nil))
	refused(t, err, resource.ErrKeysUnavailable)
	if e := err.(*resource.Error); e.Status != 503 || e.Code != "" {
		t.Fatalf("error %+v", e)
	}
}

// RSA, EC P-256 and Ed25519 keys verify their algorithms; keys whose use
// is not sig are ignored; a key of one type is not used for another alg.
func TestKeyTypes(t *testing.T) {
	es, rs, ed := newKey(t, "es", "ES256"), newKey(t, "rs", "RS256"), newKey(t, "ed", "EdDSA")
	enc := newKey(t, "enc", "ES256")
	enc.use = "enc"
	as := newStubAS(t, es, rs, ed, enc)
	clk := newClock()
	v := stubValidator(t, as, clk)
	ctx := context.Background()
	for _, k := range []*stubKey{es, rs, ed} {
		if _, err := v.Validate(ctx, mint(t, k, claims(clk.Now()), nil)); err != nil {
			t.Errorf("%s: %v", k.method.Alg(), err)
		}
	}
	_, err := v.Validate(ctx, mint(t, enc, claims(clk.Now()), nil))
	refused(t, err, resource.ErrUnknownKey)
	// An ES256 token naming the RSA key's kid.
	_, err = v.Validate(ctx, mint(t, es, claims(clk.Now()), map[string]any{"kid": "rs"}))
	refused(t, err, resource.ErrAlgorithm)
}

// The checks of RFC 9068 §4 on hand-made tokens.
func TestClaimChecks(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	clk := newClock()
	v := stubValidator(t, as, clk)
	now := clk.Now()
	with := func(f func(c map[string]any)) string {
		c := claims(now)
		f(c)
		return mint(t, k, c, nil)
	}
	cases := []struct {
		name   string
		token  string
		reason error
	}{
		{"typ JWT", mint(t, k, claims(now), map[string]any{"typ": "JWT"}), resource.ErrType},
		{"no typ", mint(t, k, claims(now), map[string]any{"typ": nil}), resource.ErrType},
		{"crit", mint(t, k, claims(now), map[string]any{"crit": []string{"exp"}}), resource.ErrMalformed},
		{"no kid", mint(t, k, claims(now), map[string]any{"kid": nil}), resource.ErrUnknownKey},
		{"other issuer", with(func(c map[string]any) { c["iss"] = "https://evil.example" }), resource.ErrIssuer},
		{"aud array without us", with(func(c map[string]any) { c["aud"] = []string{billingAPI, "x"} }), resource.ErrAudience},
		{"no exp", with(func(c map[string]any) { delete(c, "exp") }), resource.ErrMalformed},
		{"nbf ahead", with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }), resource.ErrNotYetValid},
		{"iat ahead", with(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() }), resource.ErrNotYetValid},
		{"no iat", with(func(c map[string]any) { delete(c, "iat") }), resource.ErrMalformed},
		{"no client_id", with(func(c map[string]any) { delete(c, "client_id") }), resource.ErrMalformed},
		{"cnf without jkt", with(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": "abc"} }), resource.ErrMalformed},
		{"garbage", "not.a.jwt", resource.ErrMalformed},
	}
	for _, c := range cases {
		_, err := v.Validate(context.Background(), c.token)
		var e *resource.Error
		if !errAs(err, &e) || e.Code != resource.CodeInvalidToken {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		refusedAs(t, c.name, err, c.reason)
	}
	// Accepted: aud array naming us, typ application/at+jwt, nbf within leeway.
	ok := with(func(c map[string]any) {
		c["aud"] = []string{billingAPI, photosAPI}
		c["nbf"] = now.Add(20 * time.Second).Unix()
	})
	if _, err := v.Validate(context.Background(), ok); err != nil {
		t.Error(err)
	}
	if _, err := v.Validate(context.Background(), mint(t, k, claims(now), map[string]any{"typ": "application/at+jwt"})); err != nil {
		t.Error(err)
	}
}

// A caller that gives up waiting does not cancel the fetch the others
// share.
func TestFetchOutlivesCanceledCaller(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	as.set(func(s *stubAS) { s.delay = 200 * time.Millisecond })
	clk := newClock()
	v := stubValidator(t, as, clk)
	tok := mint(t, k, claims(clk.Now()), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var patient error
	wg.Go(func() { time.Sleep(5 * time.Millisecond); _, patient = v.Validate(context.Background(), tok) })
	start := time.Now()
	if _, err := v.Validate(ctx, tok); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 150*time.Millisecond {
		t.Errorf("impatient caller: %v after %v", err, time.Since(start))
	}
	wg.Wait()
	if patient != nil || as.hits.Load() != 1 {
		t.Fatalf("patient caller: %v, %d fetches", patient, as.hits.Load())
	}
}

// Error descriptions say what was wrong, in characters a challenge can
// carry.
func TestErrorDescriptions(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	clk := newClock()
	v := stubValidator(t, as, clk)
	for token, want := range map[string]string{
		mint(t, k, claims(clk.Now()), map[string]any{"typ": "JWT"}):  "invalid_token: not an access token (typ): JWT",
		mint(t, k, claims(clk.Now()), map[string]any{"typ": nil}):    "invalid_token: not an access token (typ): none",
		mint(t, k, claims(clk.Now()), map[string]any{"kid": "nope"}): "invalid_token: unknown signing key",
		mint(t, k, claims(clk.Now().Add(-time.Hour)), nil):           "invalid_token: token expired",
	} {
		if _, err := v.Validate(context.Background(), token); err == nil || err.Error() != want {
			t.Errorf("%v, want %s", err, want)
		}
	}
}
