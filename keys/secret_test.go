package keys

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	secret, created, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false on first call")
	}
	raw, err := hex.DecodeString(string(secret))
	if err != nil || len(raw) != 32 {
		t.Errorf("secret %q is not 32 bytes of hex", secret)
	}
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, want 0700", di.Mode().Perm())
	}

	again, created, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created || !bytes.Equal(again, secret) {
		t.Errorf("second call: created=%v, same secret=%v", created, bytes.Equal(again, secret))
	}
	// The generated secret is accepted by the manager.
	if _, err := NewManager(&memStore{}, secret, ES256, Settings{}); err != nil {
		t.Errorf("generated secret rejected: %v", err)
	}
}

func TestLoadOrCreateSecretKeepsOperatorFile(t *testing.T) {
	dir := t.TempDir()
	want := "an operator-provided secret of enough length"
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte(want+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadOrCreateSecret(dir)
	if err != nil || created || string(got) != want {
		t.Fatalf("got %q, created=%v, err=%v", got, created, err)
	}
}

func TestLoadOrCreateSecretRejectsEmptyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateSecret(dir); err == nil {
		t.Fatal("empty secret file accepted")
	}
}
