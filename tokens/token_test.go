package tokens_test

import (
	"bytes"
	"strings"
	"testing"

	"authserver/tokens"
)

func TestRefreshTokenFormat(t *testing.T) {
	fam := tokens.NewFamilyID()
	tok, hash := tokens.NewRefreshToken(fam)
	got, ok := tokens.ParseRefreshToken(tok)
	if !ok || got != fam {
		t.Fatalf("ParseRefreshToken(%q) = %q, %v", tok, got, ok)
	}
	if !bytes.Equal(hash, tokens.Hash(tok)) || len(hash) != 32 {
		t.Fatal("the hash is not the SHA-256 of the token")
	}
	_, secret, _ := strings.Cut(tok, ".")
	if len(secret) < 43 { // 256 bits in base64url
		t.Fatalf("secret part %q is too short", secret)
	}
	other, _ := tokens.NewRefreshToken(fam)
	if other == tok {
		t.Fatal("two tokens of a family are equal")
	}
	for _, bad := range []string{"", ".", fam, fam + ".", "." + secret, fam + "." + secret + "x", fam + "." + secret[:42] + "!", "a.b.c", fam[:21] + "." + secret} {
		if _, ok := tokens.ParseRefreshToken(bad); ok {
			t.Errorf("ParseRefreshToken accepted %q", bad)
		}
	}
}

func TestCodesAndJTIsAreRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		c, h := tokens.NewCode()
		if len(c) < 43 || seen[c] || !bytes.Equal(h, tokens.Hash(c)) {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		j := tokens.NewJTI()
		if seen[j] {
			t.Fatal("repeated jti")
		}
		seen[j] = true
	}
}
