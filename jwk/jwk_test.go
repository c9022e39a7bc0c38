package jwk_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"maps"
	"testing"

	"authserver/jwk"
)

// Every supported key survives Public then ParsePublic as the same key;
// private members and unsupported types are told apart by their errors.
func TestRoundTripAndRefusals(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, pub := range []crypto.PublicKey{ec.Public(), rk.Public(), ed.Public()} {
		m, err := jwk.Public(pub)
		if err != nil {
			t.Fatalf("%T: %v", pub, err)
		}
		got, err := jwk.ParsePublic(m)
		if err != nil {
			t.Fatalf("%T: %v", pub, err)
		}
		if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%T: parsed another key", pub)
		}
		withD := maps.Clone(m)
		withD["d"] = "AAAA"
		if _, err := jwk.ParsePublic(withD); !errors.Is(err, jwk.ErrPrivate) {
			t.Fatalf("%T with d: %v, want ErrPrivate", pub, err)
		}
	}
	if _, err := jwk.ParsePublic(map[string]any{"kty": "oct", "k": "c2VjcmV0"}); !errors.Is(err, jwk.ErrPrivate) {
		t.Fatalf("oct key: %v, want ErrPrivate", err)
	}
	if _, err := jwk.ParsePublic(map[string]any{"kty": "OKP", "crv": "X25519", "x": "AAAA"}); !errors.Is(err, jwk.ErrUnsupported) {
		t.Fatalf("X25519: %v, want ErrUnsupported", err)
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	m, _ := jwk.Public(rk.Public())
	m["n"] = jwk.EncodeBase64(weak.N.Bytes())
	if _, err := jwk.ParsePublic(m); err == nil || errors.Is(err, jwk.ErrUnsupported) {
		t.Fatalf("1024-bit RSA: %v, want refused as weak", err)
	}
}
