package dpop

import (
	"crypto"
	"fmt"

	"authserver/jwk"
)

// privateMembers are the JWK members a proof's key must not carry.
var privateMembers = jwk.PrivateMembers

// parseJWK turns the jwk header of a proof into a public key (jwk.ParsePublic:
// EC P-256/P-384, RSA 2048–8192 bits, Ed25519, canonical encodings only).
func parseJWK(members map[string]any) (crypto.PublicKey, error) { return jwk.ParsePublic(members) }

// canonicalJWK is the key's one JWK, for its thumbprint.
func canonicalJWK(pub crypto.PublicKey) ([]byte, error) { return jwk.Canonical(pub) }

// publicJWK is the jwk header NewProof sends for a key, checked the way
// Verify will check it.
func publicJWK(pub crypto.PublicKey) (map[string]any, error) {
	m, err := jwk.Public(pub)
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	return m, nil
}
