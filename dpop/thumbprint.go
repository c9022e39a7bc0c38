package dpop

import (
	"crypto"
	"crypto/sha256"
	"fmt"
)

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public JWK, base64url:
// the cnf.jkt an access token or refresh family is bound to, and the
// dpop_jkt a client may send at /authorize (RFC 9449 §10). The JWK must be
// a key Verify accepts.
func Thumbprint(jwk map[string]any) (string, error) {
	pub, err := parseJWK(jwk)
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	return ThumbprintKey(pub)
}

// ThumbprintKey is the thumbprint of a public key (*ecdsa.PublicKey on
// P-256 or P-384, *rsa.PublicKey, ed25519.PublicKey).
func ThumbprintKey(pub crypto.PublicKey) (string, error) {
	raw, err := canonicalJWK(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return b64.encode(sum[:]), nil
}
