package clients

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
)

// AssertionAlgs are the JWS algorithms a private_key_jwt client may sign
// its assertions with: asymmetric only, so the server never holds what
// signs (no HS*, never none).
var AssertionAlgs = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Bounds on a client's key set: enough for a rotation, not a dump.
const (
	maxJWKSBytes = 32 << 10
	maxJWKSKeys  = 20
	minRSABits   = 2048
)

// privateMembers are JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): a client's key
// set must not hold any, or the server would be keeping its secrets.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

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

// jwk holds the members of a public JWK this server reads.
type jwk struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
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
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, fmt.Errorf("key %d holds private or symmetric key material (%q): register public keys only", i, m)
			}
		}
		var j jwk
		if b, err := json.Marshal(members); err != nil || json.Unmarshal(b, &j) != nil {
			return nil, fmt.Errorf("key %d is malformed", i)
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		if j.Alg != "" && !slices.Contains(AssertionAlgs, j.Alg) {
			continue // for an alg this server does not verify
		}
		pub, err := j.publicKey()
		if errors.Is(err, errUnsupportedKey) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %d: %v", i, err)
		}
		k := PublicKey{ID: j.Kid, Alg: j.Alg, Key: pub}
		if j.Alg != "" && !k.Fits(j.Alg) {
			return nil, fmt.Errorf("key %d: alg %s does not fit its key type", i, j.Alg)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no signing key for %s", strings.Join(AssertionAlgs, ", "))
	}
	return out, nil
}

var errUnsupportedKey = errors.New("unsupported key type")

func (j jwk) publicKey() (crypto.PublicKey, error) {
	b := base64.RawURLEncoding.DecodeString
	switch {
	case j.Kty == "EC" && j.Crv == "P-256":
		x, err1 := b(j.X)
		y, err2 := b(j.Y)
		if errors.Join(err1, err2) != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad EC P-256 key")
		}
		// ParseUncompressedPublicKey refuses points off the curve.
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("bad EC P-256 key")
		}
		return k, nil
	case j.Kty == "RSA":
		n, err1 := b(j.N)
		e, err2 := b(j.E)
		if errors.Join(err1, err2) != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA key")
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if k.N.BitLen() < minRSABits || k.E < 3 || k.E%2 == 0 {
			return nil, fmt.Errorf("weak RSA key (want at least %d bits and an odd exponent)", minRSABits)
		}
		return k, nil
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		x, err := b(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key")
		}
		return ed25519.PublicKey(x), nil
	case j.Kty == "oct":
		return nil, errors.New("a symmetric key cannot sign a client assertion here")
	}
	return nil, errUnsupportedKey
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
