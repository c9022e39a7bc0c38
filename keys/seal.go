package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// minSecretLen is the shortest key encryption secret accepted; the
// generated one is 64 characters.
const minSecretLen = 16

// sealer encrypts private keys at rest with AES-256-GCM.
type sealer struct {
	aead cipher.AEAD
}

// newSealer derives the AES key with HKDF-SHA256 rather than using the
// secret directly: the secret is an operator-chosen string of any length,
// HKDF turns it into a uniform 32-byte key, and its info label ties that key
// to this one use so the same secret elsewhere never yields the same key.
func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("keys: key encryption secret must be at least %d bytes", minSecretLen)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "authserver signing-key seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("keys: derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// additionalData binds a sealed key to its kid and alg, so a sealed blob
// moved onto another key record fails to open.
func additionalData(kid, alg string) []byte {
	return []byte(kid + "\x00" + alg)
}

// seal returns nonce || ciphertext.
func (s *sealer) seal(plain []byte, kid, alg string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, additionalData(kid, alg)), nil
}

func (s *sealer) open(sealed []byte, kid, alg string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("sealed key too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], additionalData(kid, alg))
}
