package keys

import (
	"context"
	"errors"
	"testing"
	"time"
)

func clockedSet(t *testing.T, store Store, c *clock, s Settings) *Set {
	t.Helper()
	set, err := NewSet(store, testSecret(1), ES256, []string{RS256, ES256, EdDSA}, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range set.byAlg {
		m.SetClock(c.now)
	}
	if err := set.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return set
}

// signingKids is the kid signing each algorithm now.
func signingKids(t *testing.T, s *Set) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, alg := range s.Algs() {
		k, ok := s.SigningKeyFor(alg)
		if !ok || k.Method.Alg() != alg {
			t.Fatalf("no %s signing key", alg)
		}
		out[alg] = k.ID
	}
	return out
}

// Every algorithm signs with a key of its own; JWKS and verification by
// kid span them all, and the list says which key signs each.
func TestSetHoldsAKeyOfEveryAlgorithm(t *testing.T) {
	s := clockedSet(t, &memStore{}, newClock(), lifecycle)
	if got := s.Algs(); len(got) != 3 || got[0] != ES256 {
		t.Fatalf("algs %v: the access-token alg first, each once", got)
	}
	kids := signingKids(t, s)
	if s.SigningKey().ID != kids[ES256] {
		t.Error("access tokens are not signed with the signing.alg key")
	}
	jwks := publicFromJWKS(t, s.JWKS())
	for alg, kid := range kids {
		if _, ok := jwks[kid]; !ok {
			t.Errorf("JWKS lacks the %s key", alg)
		}
		if m, _, ok := s.VerificationKey(kid); !ok || m.Alg() != alg {
			t.Errorf("kid of %s does not verify as %s", alg, alg)
		}
	}
	for _, k := range s.Keys() {
		if k.State != StateSigning || !k.Signing {
			t.Errorf("key %s (%s) listed %s, want signing", k.ID, k.Alg, k.State)
		}
	}
}

// A rotation publishes a successor of every algorithm ahead, which every
// Manager of the set publishes at once; each old key keeps signing until
// its successor takes over and retires after its tokens.
func TestSetRotationKeepsTheLifecycle(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := clockedSet(t, &memStore{}, c, lifecycle)
	old := signingKids(t, s)
	if _, err := s.Rotate(ctx, false); err != nil {
		t.Fatal(err)
	}
	pending := map[string]string{}
	for _, k := range s.Keys() {
		if k.State == StatePending {
			pending[k.Alg] = k.ID
		}
	}
	if len(pending) != 3 {
		t.Fatalf("pending keys %v, want one per algorithm", pending)
	}
	jwks := publicFromJWKS(t, s.JWKS())
	for alg, kid := range pending {
		if _, ok := jwks[kid]; !ok {
			t.Errorf("the pending %s key is not published", alg)
		}
	}
	if now := signingKids(t, s); now[RS256] != old[RS256] {
		t.Error("the RS256 successor signs within publish_ahead")
	}
	c.set(c.now().Add(lifecycle.PublishAhead))
	if now := signingKids(t, s); now[RS256] != pending[RS256] || now[EdDSA] != pending[EdDSA] {
		t.Errorf("after publish_ahead the successors sign: %v, want %v", now, pending)
	}
	c.set(c.now().Add(lifecycle.TokenLifetime + lifecycle.RetireMargin))
	if _, ok := publicFromJWKS(t, s.JWKS())[old[RS256]]; ok {
		t.Error("the superseded RS256 key is still published after its tokens expired")
	}
}

// Retire goes through the Manager of the key's algorithm: the key signing
// RS256 cannot be retired by way of the ES256 one.
func TestSetRetireJudgesByTheKeysAlgorithm(t *testing.T) {
	s := clockedSet(t, &memStore{}, newClock(), lifecycle)
	kids := signingKids(t, s)
	if _, err := s.Retire(context.Background(), kids[RS256], true); !errors.Is(err, ErrRetireSigning) {
		t.Fatalf("retire the RS256 signing key: %v, want ErrRetireSigning", err)
	}
}

// Scheduled rotation runs for every algorithm.
func TestSetRotateIfDue(t *testing.T) {
	c := newClock()
	settings := lifecycle
	settings.RotateEvery = 24 * time.Hour
	s := clockedSet(t, &memStore{}, c, settings)
	if added, err := s.RotateIfDue(context.Background()); err != nil || len(added) != 0 {
		t.Fatalf("rotation before it is due: %v %v", added, err)
	}
	c.set(c.now().Add(settings.RotateEvery))
	added, err := s.RotateIfDue(context.Background())
	if err != nil || len(added) != 3 {
		t.Fatalf("due rotation added %v (%v), want a key of each algorithm", added, err)
	}
}
