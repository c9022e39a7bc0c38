package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the admin token file inside the data directory.
const TokenFile = "admin.token"

// LoadOrCreateToken returns the admin token kept in <dataDir>/admin.token,
// creating the directory (0700) and the file (0600, 32 random bytes,
// base64url) when there is none. created reports whether it was made now,
// so the caller can say where to find it.
func LoadOrCreateToken(dataDir string) (token string, created bool, err error) {
	path := filepath.Join(dataDir, TokenFile)
	if tok, err := readToken(path); !errors.Is(err, fs.ErrNotExist) {
		return tok, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	tok := base64.RawURLEncoding.EncodeToString(b)

	// O_EXCL: when two processes start at once, one creates and the other
	// reads what it wrote instead of overwriting it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		tok, err := readToken(path)
		return tok, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	_, werr := f.WriteString(tok + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path) // a half-written token would lock the admin out
		return "", false, fmt.Errorf("admin token: write %s: %w", path, err)
	}
	return tok, true, nil
}

// ReadToken returns the token in <dataDir>/admin.token.
func ReadToken(dataDir string) (string, error) {
	return readToken(filepath.Join(dataDir, TokenFile))
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin token: %s is empty", path)
	}
	return tok, nil
}
