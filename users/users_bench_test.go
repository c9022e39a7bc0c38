package users_test

import (
	"testing"

	"authserver/users"
)

// BenchmarkVerify is the argon2id check behind every password grant and
// sign-in, at the default cost (OWASP's minimum: t=2, 19 MiB, p=1): the
// floor of the password grant's CPU per request.
func BenchmarkVerify(b *testing.B) {
	h := users.Hasher{Time: 2, MemoryKiB: 19456, Threads: 1}
	enc, err := h.Hash("a long bench passphrase")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := users.Verify(enc, "a long bench passphrase")
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
