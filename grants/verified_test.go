package grants_test

import (
	"context"
	"crypto"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/grants"
	"authserver/keys"
	"authserver/store/embedded"
)

// retirableKeys is a key source whose keys can be withdrawn, as
// `authserver keys retire --now` does, and that counts lookups.
type retirableKeys struct {
	*keys.Manager
	retired atomic.Bool
	lookups atomic.Int32
}

func (r *retirableKeys) VerificationKey(kid string) (jwt.SigningMethod, crypto.PublicKey, bool) {
	r.lookups.Add(1)
	if r.retired.Load() {
		return nil, nil, false
	}
	return r.Manager.VerificationKey(kid)
}

func verifiedIssuer(t *testing.T) (*grants.Issuer, *retirableKeys) {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, []byte("test key encryption secret, 32+ bytes"), keys.ES256, keys.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ks := &retirableKeys{Manager: km}
	return grants.NewIssuer("https://issuer.test", []string{"https://api.test"}, ks), ks
}

// A token verified once is answered from memory, as a copy the caller may
// change; it stops verifying at its exp, and at once when its key is
// retired.
func TestVerifyRemembersTokens(t *testing.T) {
	iss, ks := verifiedIssuer(t)
	tok, err := iss.Mint(grants.Access{ClientID: "c", Scope: "read", JTI: "j1", IssuedAt: time.Now(), TTL: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	first.Scope, first.Audience[0] = "changed", "changed"
	again, err := iss.Verify(tok)
	if err != nil || again.Scope != "read" || again.Audience[0] != "https://api.test" || again.ID != "j1" {
		t.Fatalf("second Verify: %+v, %v: want the token's own claims", again, err)
	}
	// A token altered by one byte is no hit, and fails.
	if _, err := iss.Verify(tok[:len(tok)-2] + "AA"); err == nil {
		t.Fatal("a tampered token verified")
	}

	ks.retired.Store(true)
	if _, err := iss.Verify(tok); err == nil {
		t.Fatal("a token of a retired key still verifies from memory")
	}
	ks.retired.Store(false)
	if _, err := iss.Verify(tok); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1600 * time.Millisecond)
	if _, err := iss.Verify(tok); err == nil {
		t.Fatal("an expired token still verifies from memory")
	}
}

// Many callers verifying one token at once all get its claims.
func TestVerifyRememberedConcurrently(t *testing.T) {
	iss, _ := verifiedIssuer(t)
	tok, err := iss.Mint(grants.Access{ClientID: "c", Scope: "read", JTI: "j2", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 50 {
		wg.Go(func() {
			c, err := iss.Verify(tok)
			if err != nil || c.ID != "j2" {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 50 concurrent verifications failed", failed.Load())
	}
}
