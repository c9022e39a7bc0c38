package dpop

import (
	"context"
	"crypto/elliptic"
	"errors"
	"testing"
)

// FuzzNormalizeHTU: normalizing twice changes nothing, so a client that
// sends an already normalized htu always matches.
func FuzzNormalizeHTU(f *testing.F) {
	for _, seed := range []string{
		"https://as.example.com/token", "HTTP://A:80/%7e/./../x/%2f?q#f",
		"https://[::1]:443/a/b/..", "https://h/%2E%2E/%2e/a%25b", "https://h",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		once, err := normalizeHTU(raw)
		if err != nil {
			return
		}
		twice, err := normalizeHTU(once)
		if err != nil || twice != once {
			t.Fatalf("normalizeHTU(%q) = %q, then %q, %v", raw, once, twice, err)
		}
	})
}

// FuzzVerify: whatever the header value, Verify answers an ErrInvalidProof
// and never panics.
func FuzzVerify(f *testing.F) {
	proof, err := NewProof(newECKey(f, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(proof)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	v := newVerifier()
	f.Fuzz(func(t *testing.T, value string) {
		_, err := v.Verify(context.Background(), tokenRequest(value))
		if err != nil && !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("error %v is not ErrInvalidProof", err)
		}
	})
}
