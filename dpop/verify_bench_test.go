package dpop

import (
	"context"
	"crypto/elliptic"
	"testing"
	"time"
)

// BenchmarkVerifyES256 is one proof at /token: parse, jwk, signature,
// claims, thumbprint, no replay store.
func BenchmarkVerifyES256(b *testing.B) {
	v := newVerifier()
	proof, err := NewProof(newECKey(b, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tokenRequest(proof)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyES256ResourceServer adds what a resource server checks:
// ath, the bound key, a nonce and the in-memory replay cache, each proof
// fresh.
func BenchmarkVerifyES256ResourceServer(b *testing.B) {
	key := newECKey(b, elliptic.P256())
	jkt, _ := ThumbprintKey(key.Public())
	nonces := NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute)
	proofs := make([]string, b.N)
	for i := range proofs {
		p, err := NewProof(key, "ES256", "GET", "https://api.example.com/orders", "access-token", nonces.Current(testNow), testNow)
		if err != nil {
			b.Fatal(err)
		}
		proofs[i] = p
	}
	cache := NewMemoryReplayCache(b.N + 1)
	cache.Now = fixedClock
	v := &Verifier{Now: fixedClock, Nonces: nonces, Replay: cache}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := v.Verify(ctx, Request{
			Proof: proofs[i], Method: "GET", URL: "https://api.example.com/orders",
			AccessToken: "access-token", ExpectedJKT: jkt,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewProofES256(b *testing.B) {
	key := newECKey(b, elliptic.P256())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewProof(key, "ES256", "POST", testURL, "", "", testNow); err != nil {
			b.Fatal(err)
		}
	}
}
