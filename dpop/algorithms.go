package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"slices"
)

// DefaultAlgorithms are the proof algorithms a Verifier accepts when its
// Algorithms is empty.
var DefaultAlgorithms = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}

// supportedAlgorithms are all the algorithms keyFitsAlg knows.
var supportedAlgorithms = []string{"ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// keyFitsAlg reports whether alg is an asymmetric algorithm this package
// supports and pub is a key of its kind. Nothing else (none, HS*, ES512,
// an unknown name) ever fits, whatever a Verifier's Algorithms says.
func keyFitsAlg(pub crypto.PublicKey, alg string) bool {
	switch alg {
	case "ES256", "ES384":
		k, ok := pub.(*ecdsa.PublicKey)
		want := elliptic.P256()
		if alg == "ES384" {
			want = elliptic.P384()
		}
		return ok && k.Curve == want
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := pub.(*rsa.PublicKey)
		return ok
	case "EdDSA":
		_, ok := pub.(ed25519.PublicKey)
		return ok
	}
	return false
}

func (v *Verifier) allows(alg string) bool {
	if len(v.Algorithms) == 0 {
		return slices.Contains(DefaultAlgorithms, alg)
	}
	return slices.Contains(v.Algorithms, alg)
}
