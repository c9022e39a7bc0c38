package tokens_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"authserver/tokens"
)

func newChain(t *testing.T, secret string) *tokens.Chain {
	t.Helper()
	c, err := tokens.NewChain([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A chain is deterministic (the retry rule rests on it), each link proves
// its generation, and nothing but the key makes one.
func TestChain(t *testing.T) {
	c := newChain(t, "a key-encryption secret of enough length")
	fam := tokens.NewFamilyID()
	first, _ := tokens.NewRefreshToken(fam)

	if f, gen, err := c.Parse(first); err != nil || f != fam || gen != 0 {
		t.Fatalf("Parse(first) = %q, %d, %v", f, gen, err)
	}
	s1 := c.Next(fam, 0, first)
	if again := c.Next(fam, 0, first); again.Token != s1.Token || again.JTI != s1.JTI || !bytes.Equal(again.Hash, s1.Hash) {
		t.Fatal("the successor of one token differs between calls")
	}
	if s1.Generation != 1 || !bytes.Equal(s1.Hash, tokens.Hash(s1.Token)) || s1.JTI == "" {
		t.Fatalf("successor %+v", s1)
	}
	s2 := c.Next(fam, s1.Generation, s1.Token)
	if s2.Token == s1.Token || s2.JTI == s1.JTI {
		t.Fatal("two generations share a token or a jti")
	}
	for _, s := range []tokens.Successor{s1, s2} {
		f, gen, err := c.Parse(s.Token)
		if err != nil || f != fam || gen != s.Generation {
			t.Fatalf("Parse(%q) = %q, %d, %v; want %q, %d", s.Token, f, gen, err, fam, s.Generation)
		}
		if f, ok := tokens.ParseRefreshToken(s.Token); !ok || f != fam {
			t.Fatalf("ParseRefreshToken(successor) = %q, %v", f, ok)
		}
	}
	// Another first token, even of the same family, has another successor.
	other, _ := tokens.NewRefreshToken(fam)
	if c.Next(fam, 0, other).Token == s1.Token {
		t.Fatal("two predecessors share a successor")
	}

	// Another server's key, a changed generation, family or MAC: forged.
	parts := strings.Split(s2.Token, ".")
	otherFam := tokens.NewFamilyID()
	forged := map[string]string{
		"another key":        newChain(t, "another secret, also long enough").Next(fam, 1, s1.Token).Token,
		"a later generation": strings.Join([]string{parts[0], "7", parts[2], parts[3]}, "."),
		"another family":     strings.Join([]string{otherFam, parts[1], parts[2], parts[3]}, "."),
		"another link":       strings.Join([]string{parts[0], parts[1], strings.Repeat("A", len(parts[2])), parts[3]}, "."),
		"a flipped MAC":      strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3])}, "."),
	}
	for what, tok := range forged {
		if _, _, err := c.Parse(tok); !errors.Is(err, tokens.ErrForgedRefresh) {
			t.Errorf("%s: Parse = %v, want ErrForgedRefresh", what, err)
		}
	}
	for _, bad := range []string{"", "x", s2.Token + ".x", parts[0] + ".0." + parts[2] + "." + parts[3],
		parts[0] + ".01." + parts[2] + "." + parts[3], parts[0] + ".-1." + parts[2] + "." + parts[3],
		parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3][1:], parts[0] + ".1e3." + parts[2] + "." + parts[3]} {
		if _, _, err := c.Parse(bad); err == nil || !tokens.IsMalformed(err) {
			t.Errorf("Parse(%q) = %v, want malformed", bad, err)
		}
	}
	if _, err := tokens.NewChain(nil); err == nil {
		t.Fatal("NewChain accepted an empty secret")
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
