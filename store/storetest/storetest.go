// Package storetest is the conformance suite every storage backend must pass.
// A backend's own test calls Run with a constructor; the same tests then run
// against the embedded store, Redis standalone and Redis Cluster.
// ScanForSecrets checks that a backend's dump holds none of the secrets a
// flow handled.
//
// Where the contracts leave room, the suite settles it as follows:
//   - RotateRefresh checks, in order: family missing, tombstoned or expired
//     at r.Now (ErrFamilyNotFound); another client (ErrClientMismatch, even
//     for an unknown token: nothing changes); revoked (ErrFamilyRevoked);
//     then the token. On ErrReuse it returns the family as revoked.
//   - Grace: only the immediately previous token, and only within Grace of
//     the rotation that replaced it (a retry does not restart the window). A
//     retry rotates again: Next becomes current, the previous token stays
//     previous, and the token the lost response carried is dead (reuse).
//   - RevokeFamily of a live family returns it revoked with a nil error,
//     also when it was revoked already. For a missing or expired ID it
//     returns ErrFamilyNotFound and a tombstone blocks CreateFamily with that
//     ID for tombstoneTTL, after which the ID can be created.
//   - LookupRefresh answers only for the current token of a live family
//     (ErrFamilyRevoked for a revoked one), checks the token before the
//     revocation, and changes nothing.
//   - Expiry is decided by the now a method is given (RotateRefresh,
//     RedeemCode, LookupRefresh, Lookup/UseInitialAccessToken) and by the
//     wall clock everywhere else.
//   - RememberOnce: of any number of concurrent callers with one key,
//     exactly one is told it is fresh; once until passes (by the wall
//     clock) the key is fresh again.
//   - Times round-trip to the millisecond.
package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"authserver/store"
)

// Run runs the whole suite against the backend newBackend returns.
//
// newBackend is called once, and Run returns when every test has finished.
// Run does not close the backend: register t.Cleanup in newBackend, or close
// it after Run returns. The backend need not be empty: every test uses fresh
// random IDs, usernames, keys and algorithm names, and the list tests check
// order over the whole list but membership only for their own records.
// Subtests share the backend and most run in parallel, which is part of what
// is tested.
func Run(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	t.Helper()
	b := newBackend(t)
	if b == nil {
		t.Fatal("newBackend returned nil")
	}
	groups := []struct {
		name string
		run  func(t *testing.T, b store.Backend)
	}{
		{"Clients", testClients},
		{"Resources", testResources},
		{"Users", testUsers},
		{"Keys", testKeys},
		{"KeyLifecycle", testKeyLifecycle},
		{"RateLimit", testRateLimit},
		{"Refresh", testRefresh},
		{"RefreshRace", testRefreshRace},
		{"LookupRefresh", testLookupRefresh},
		{"Codes", testCodes},
		{"DenyList", testDenyList},
		{"Sessions", testSessions},
		{"SessionClients", testSessionClients},
		{"InitialAccessTokens", testInitialAccessTokens},
		{"Consents", testConsents},
		{"Expiry", testExpiry},
		{"RememberOnce", testRememberOnce},
		{"Ping", testPing},
	}
	// The parallel groups run inside one subtest so that Run returns only
	// when all of them have finished: a caller may close the backend right
	// after Run (a parallel subtest of the caller's own test would only
	// start once the caller's function had returned).
	t.Run("storetest", func(t *testing.T) {
		for _, g := range groups {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				g.run(t, b)
			})
		}
	})
}

// Short lifetimes for tests that wait for something to expire: long enough
// that a store round trip fits in well under them, short enough to keep the
// suite fast. expiryWait is how long such a test sleeps before expecting the
// record to be gone.
const (
	shortTTL   = 300 * time.Millisecond
	expiryWait = 700 * time.Millisecond
)

// randID returns prefix followed by 16 random hex digits, so parallel tests
// and earlier runs against the same backend never share a record.
func randID(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%x", prefix, b)
}

// hashOf returns the SHA-256 of a fresh random string: what the server stores
// in place of a token or code.
func hashOf() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

// sameTime reports whether two times agree to the millisecond, which is the
// precision a backend may keep (Redis TTLs are milliseconds).
func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	return d < time.Millisecond
}

// ms returns now truncated to the millisecond, without a monotonic reading,
// so values round-trip through any backend exactly.
func ms(t time.Time) time.Time {
	return t.Round(0).Truncate(time.Millisecond)
}

// liveCheck runs f only if less than half of ttl has passed since start: a
// test may then assert that a short-lived record still exists without failing
// on a machine that stalled past its lifetime.
func liveCheck(start time.Time, ttl time.Duration, f func()) {
	if time.Since(start) < ttl/2 {
		f()
	}
}
