package tokens_test

import (
	"testing"

	"authserver/tokens"
)

func BenchmarkChain(b *testing.B) {
	c, _ := tokens.NewChain([]byte("a key-encryption secret of enough length"))
	fam := tokens.NewFamilyID()
	first, _ := tokens.NewRefreshToken(fam)
	s := c.Next(fam, 0, first)
	b.ReportAllocs()
	for b.Loop() {
		f, g, _ := c.Parse(s.Token)
		_ = c.Next(f, g, s.Token)
	}
}
