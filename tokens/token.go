package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

const (
	familyIDBytes = 16
	secretBytes   = 32
)

var (
	familyIDLen = base64.RawURLEncoding.EncodedLen(familyIDBytes)
	secretLen   = base64.RawURLEncoding.EncodedLen(secretBytes)
)

// NewFamilyID returns a fresh random family id.
func NewFamilyID() string { return random(familyIDBytes) }

// NewRefreshToken returns a family's first refresh token and its hash;
// Chain makes the ones after it.
func NewRefreshToken(familyID string) (token string, hash []byte) {
	token = familyID + "." + random(secretBytes)
	return token, Hash(token)
}

// ParseRefreshToken returns the family id a well-formed refresh token (a
// first token or a successor: see Chain) carries; ok is false for anything
// else. Only the shape is checked: the store decides whether it counts.
func ParseRefreshToken(token string) (familyID string, ok bool) {
	if fam, ok := parseFirst(token); ok {
		return fam, true
	}
	fam, _, _, _, ok := splitSuccessor(token)
	return fam, ok
}

// parseFirst accepts a family's first token: "<family id>.<secret>".
func parseFirst(token string) (familyID string, ok bool) {
	fam, secret, found := strings.Cut(token, ".")
	if !found || len(fam) != familyIDLen || len(secret) != secretLen || !isBase64URL(fam) || !isBase64URL(secret) {
		return "", false
	}
	return fam, true
}

// NewCode returns a new authorization code and its hash.
func NewCode() (code string, hash []byte) {
	code = random(secretBytes)
	return code, Hash(code)
}

// NewJTI returns a fresh JWT ID.
func NewJTI() string { return random(16) }

// Hash is how opaque tokens are kept: SHA-256. They carry 256 random bits,
// so a fast hash is enough.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
