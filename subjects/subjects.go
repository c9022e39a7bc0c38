// Package subjects computes the sub a client sees for a user (OpenID
// Connect Core 1.0 §8): the user ID for a public client, a pairwise
// identifier for a pairwise one. ID Tokens, UserInfo answers, logout
// tokens and id_token_hint checks all take it from here. Access tokens and
// introspection keep the user ID: they are for resource servers, not RPs.
package subjects

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"authserver/clients"
)

// keyLabel is the HKDF info of the pairwise key: one derivation per
// purpose of the key-encryption secret.
const keyLabel = "authserver pairwise subject v1"

// Pairwise computes subjects with a key derived from the server secret.
type Pairwise struct {
	key []byte
}

// New derives the pairwise key from the key-encryption secret.
func New(secret []byte) (*Pairwise, error) {
	if len(secret) == 0 {
		return nil, errors.New("subjects: empty secret")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, keyLabel, 32)
	if err != nil {
		return nil, err
	}
	return &Pairwise{key: key}, nil
}

// Ephemeral returns a Pairwise with a random key: its subjects do not
// survive a restart, so it is for tests and defaults only.
func Ephemeral() *Pairwise {
	key := make([]byte, 32)
	rand.Read(key)
	return &Pairwise{key: key}
}

// For is the sub client c sees for userID: userID itself for a public
// client, base64url(HMAC-SHA-256(key, sector | "|" | userID)) for a
// pairwise one, its sector being the host of its redirect URIs.
func (p *Pairwise) For(c *clients.Client, userID string) string {
	if c == nil || !c.Pairwise() {
		return userID
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(c.SectorIdentifier()))
	m.Write([]byte("|"))
	m.Write([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
