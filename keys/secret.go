package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name, inside the data directory, of the generated key
// encryption secret.
const SecretFile = "key-encryption.secret"

// LoadOrCreateSecret returns the key encryption secret kept in
// <dataDir>/key-encryption.secret, creating it (32 random bytes as hex, mode
// 0600, directory 0700) when absent; created tells the caller to log that.
// The secret is the file's text, so copying that text into
// key_encryption_secret on other nodes gives them the same key.
func LoadOrCreateSecret(dataDir string) (secret []byte, created bool, err error) {
	path := filepath.Join(dataDir, SecretFile)
	secret, err = readSecret(path)
	if err == nil {
		return secret, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("keys: create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, fmt.Errorf("keys: generate secret: %w", err)
	}
	text := []byte(hex.EncodeToString(raw))

	// O_EXCL: if another process created the file meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		secret, err = readSecret(path)
		return secret, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("keys: create secret: %w", err)
	}
	_, werr := f.Write(append(text, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// An empty or partial secret file would lock the keys away next start.
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("keys: write secret: %w", werr)
	}
	return text, true, nil
}

func readSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("keys: read secret: %w", err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("keys: %s holds no usable secret (fewer than %d characters)", path, minSecretLen)
	}
	return secret, nil
}
