package clients

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"authserver/jwk"
)

// AssertionAlgs are the JWS algorithms a private_key_jwt client may sign
// its assertions with: asymmetric only, so the server never holds what
// signs (no HS*, never none).
var AssertionAlgs = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Bounds on a client's key set: enough for a rotation, not a dump.
const (
	maxJWKSBytes = 32 << 10
	maxJWKSKeys  = 20
)

// PublicKey is one signing key of a client's JWK Set.
type PublicKey struct {
	ID  string // kid; may be empty
	Alg string // the JWK's alg; empty: any alg its type fits
	Key crypto.PublicKey
}

// Fits reports whether alg may verify with the key: the key's type must
// be the alg's, and a key naming an alg is used for that one alone.
func (k PublicKey) Fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && key.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// jwkMembers are the members of a JWK that say what it is for; the key
// itself is jwk.ParsePublic's to read.
type jwkMembers struct {
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// ParsePublicJWKS reads a client's JWK Set (RFC 7517 §5) and returns its
// signing keys. It refuses a set that holds private or symmetric key
// material, a malformed or weak key of a supported type, and a set with
// no key usable for AssertionAlgs. Keys of other types or for encryption
// are skipped (RFC 7517 §5: members a reader does not understand).
func ParsePublicJWKS(raw []byte) ([]PublicKey, error) {
	if len(raw) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || set.Keys == nil {
		return nil, errors.New(`not a JWK Set: want {"keys": [...]}`)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("more than %d keys", maxJWKSKeys)
	}
	var out []PublicKey
	for i, members := range set.Keys {
		for _, m := range jwk.PrivateMembers {
			if _, ok := members[m]; ok {
				return nil, fmt.Errorf("key %d holds private or symmetric key material (%q): register public keys only", i, m)
			}
		}
		var j jwkMembers
		var generic map[string]any
		if b, err := json.Marshal(members); err != nil || json.Unmarshal(b, &j) != nil || json.Unmarshal(b, &generic) != nil {
			return nil, fmt.Errorf("key %d is malformed", i)
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		if j.Alg != "" && !slices.Contains(AssertionAlgs, j.Alg) {
			continue // for an alg this server does not verify
		}
		pub, err := jwk.ParsePublic(generic)
		if errors.Is(err, jwk.ErrUnsupported) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %d: %v", i, err)
		}
		k := PublicKey{ID: j.Kid, Alg: j.Alg, Key: pub}
		if j.Alg != "" && !k.Fits(j.Alg) {
			return nil, fmt.Errorf("key %d: alg %s does not fit its key type", i, j.Alg)
		}
		if !slices.ContainsFunc(AssertionAlgs, k.Fits) {
			continue // a key no assertion alg verifies with (P-384, say)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no signing key for %s", strings.Join(AssertionAlgs, ", "))
	}
	return out, nil
}

// ValidateJWKSURI checks a jwks_uri: an absolute https URL with a host and
// no fragment or user information. Where it may point (public addresses
// only) is the fetcher's to check on every fetch.
func ValidateJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return errors.New("is not an absolute URL")
	case u.Scheme != "https":
		return errors.New("must be https")
	case u.User != nil:
		return errors.New("must not hold user information")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	}
	return nil
}
