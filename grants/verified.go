package grants

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// verifiedTokens remembers the access tokens Issuer.Verify accepted, by
// the SHA-256 of the token, until each one's exp: a resource server
// introspects the same token many times, and a signature check (≈80 µs for
// ES256) is the bulk of the cost. Revocation is not affected (the deny
// list is checked on every call, after Verify), and neither is an
// emergency key retirement: a hit stands only while its kid still verifies
// with the same algorithm.
type verifiedTokens struct {
	shards [verifiedShards]verifiedShard
}

const (
	verifiedShards = 16
	// verifiedPerShard bounds memory: 16 × 1024 entries of a few hundred
	// bytes each, a few MB at most.
	verifiedPerShard = 1024
)

type verifiedShard struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	claims    AccessClaims
	kid, alg  string
	expiresAt time.Time
}

func newVerifiedTokens() *verifiedTokens {
	v := &verifiedTokens{}
	for i := range v.shards {
		v.shards[i].entries = make(map[[sha256.Size]byte]verifiedEntry)
	}
	return v
}

// get returns a copy of the claims remembered for the token hash, if the
// token has not expired at now and still checks out with ks.
func (v *verifiedTokens) get(key [sha256.Size]byte, now time.Time, ks KeySource) (*AccessClaims, bool) {
	s := &v.shards[key[0]%verifiedShards]
	s.mu.Lock()
	e, ok := s.entries[key]
	if ok && !now.Before(e.expiresAt) {
		delete(s.entries, key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	if method, _, known := ks.VerificationKey(e.kid); !known || method.Alg() != e.alg {
		return nil, false // the key was retired since: verify again, and refuse
	}
	c := e.claims
	c.Audience = slices.Clone(c.Audience)
	if c.Cnf != nil {
		cnf := *c.Cnf
		c.Cnf = &cnf
	}
	return &c, true
}

// put remembers claims until expiresAt; a full shard drops an entry at
// random (Go's map order), which costs at most one more verification.
func (v *verifiedTokens) put(key [sha256.Size]byte, claims *AccessClaims, kid, alg string, expiresAt time.Time) {
	s := &v.shards[key[0]%verifiedShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= verifiedPerShard {
		for k := range s.entries {
			delete(s.entries, k)
			break
		}
	}
	e := verifiedEntry{claims: *claims, kid: kid, alg: alg, expiresAt: expiresAt}
	e.claims.Audience = slices.Clone(claims.Audience) // the caller keeps claims
	s.entries[key] = e
}
