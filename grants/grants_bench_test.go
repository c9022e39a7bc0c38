package grants_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/grants"
	"authserver/keys"
	"authserver/store/embedded"
	redisstore "authserver/store/redis"
	"authserver/store/redistest"
	"authserver/tokens"
)

// benchIssuer returns an issuer signing with alg over a fresh embedded
// store, and a token request like client_credentials makes.
func benchIssuer(b *testing.B, alg string) (*grants.Issuer, grants.Access) {
	b.Helper()
	st, err := embedded.Open(filepath.Join(b.TempDir(), "authserver.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, []byte("bench key encryption secret, 32+ bytes"), alg, keys.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	data := grants.Access{ClientID: "0123456789abcdef0123456789abcdef", Scope: "profile email", IssuedAt: time.Now(), TTL: 15 * time.Minute}
	return grants.NewIssuer("https://issuer.test", []string{"https://api.test"}, km), data
}

var algs = []string{keys.ES256, keys.EdDSA, keys.RS256}

// BenchmarkIssuerToken is minting one RFC 9068 access token: claims, JSON,
// one signature.
func BenchmarkIssuerToken(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			iss, data := benchIssuer(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Mint(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssuerVerify is checking one access token again and again: the
// first time parse, one signature verification, the registered claims;
// then the remembered answer.
func BenchmarkIssuerVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			iss, data := benchIssuer(b, alg)
			tok, err := iss.Mint(data)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssuerVerifyFresh is Verify of tokens it has not seen: every
// one a signature check (BenchmarkIssuerVerify repeats one token, which
// is answered from memory after the first).
func BenchmarkIssuerVerifyFresh(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			iss, data := benchIssuer(b, alg)
			toks := make([]string, b.N)
			for i := range toks {
				data.JTI = tokens.NewJTI()
				tok, err := iss.Mint(data)
				if err != nil {
					b.Fatal(err)
				}
				toks[i] = tok
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := iss.Verify(toks[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIntrospectionCheck is what introspecting an access token costs
// beyond HTTP and client authentication: the ES256 verification and one
// deny-list lookup in the store.
func BenchmarkIntrospectionCheck(b *testing.B) {
	iss, data := benchIssuer(b, keys.ES256)
	ctx := context.Background()
	tok, err := iss.Mint(data)
	if err != nil {
		b.Fatal(err)
	}
	emb, err := embedded.Open(filepath.Join(b.TempDir(), "deny.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emb.Close() })
	srv := redistest.StartStandalone(b)
	rs := redisstore.New(redis.NewClient(&redis.Options{Addr: srv.Addr}), "bench:")
	b.Cleanup(func() { rs.Close() })
	for _, bc := range []struct {
		name string
		deny tokens.DenyList
	}{{"embedded", emb}, {"redis", rs}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				claims, err := iss.Verify(tok)
				if err != nil {
					b.Fatal(err)
				}
				denied, err := bc.deny.IsDenied(ctx, claims.ID)
				if err != nil || denied {
					b.Fatal(denied, err)
				}
			}
		})
	}
}
