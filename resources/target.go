package resources

import (
	"slices"
	"strings"
	"time"
)

// Target is what an access token minted for resources carries.
type Target struct {
	// Audience is the aud: exactly the resources' identifiers.
	Audience []string
	// Scope is the granted scope less every scope no resource of the
	// audience accepts.
	Scope string
	// TTL is the token's lifetime: the shortest of the resources' and the
	// server's.
	TTL time.Duration
}

// For works out the access token for rs out of the granted scope. The rule
// for scopes: a granted scope is kept only if at least one resource of the
// audience accepts it (RFC 8707 §2.2 leaves this to the server), so no
// resource is handed a scope that none of them defines; openid, profile
// and the like stay out unless a resource lists them. ok is false when no
// scope is left (invalid_scope). serverTTL is the server's access_ttl.
func For(rs []Resource, granted string, serverTTL time.Duration) (t Target, ok bool) {
	t.TTL = serverTTL
	var kept []string
	for _, r := range rs {
		t.Audience = append(t.Audience, r.ID)
		if r.AccessTokenTTL > 0 && r.AccessTokenTTL < t.TTL {
			t.TTL = r.AccessTokenTTL
		}
	}
	for _, s := range strings.Fields(granted) {
		if slices.Contains(kept, s) {
			continue
		}
		for i := range rs {
			if rs[i].Accepts(s) {
				kept = append(kept, s)
				break
			}
		}
	}
	t.Scope = strings.Join(kept, " ")
	return t, len(kept) > 0
}

// Subset reports whether every identifier of asked is in granted: a code
// exchange or a refresh may narrow the resources of its grant, never
// widen them.
func Subset(asked, granted []string) bool {
	for _, id := range asked {
		if !slices.Contains(granted, id) {
			return false
		}
	}
	return true
}
