package dpop

import (
	"crypto/elliptic"
	"testing"
)

// rfc7638Key is the example key of RFC 7638 §3.1.
func rfc7638Key() map[string]any {
	return map[string]any{
		"kty": "RSA",
		"n":   "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
		"e":   "AQAB",
		"alg": "RS256",
		"kid": "2011-04-29",
	}
}

func TestThumbprintRFC7638Example(t *testing.T) {
	got, err := Thumbprint(rfc7638Key())
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
}

func TestThumbprintOfKeyAndOfItsJWKAgree(t *testing.T) {
	for _, pub := range []any{
		newECKey(t, elliptic.P256()).Public(),
		newECKey(t, elliptic.P384()).Public(),
		rsaKey(t, 2048).Public(),
		newEdKey(t).Public(),
	} {
		jwk, err := publicJWK(pub)
		if err != nil {
			t.Fatal(err)
		}
		jwk["kid"], jwk["use"] = "k1", "sig" // not part of the thumbprint
		fromJWK, err := Thumbprint(jwk)
		if err != nil {
			t.Fatal(err)
		}
		fromKey, err := ThumbprintKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if fromJWK != fromKey || len(fromKey) != 43 {
			t.Fatalf("%T: thumbprint of JWK %s, of key %s", pub, fromJWK, fromKey)
		}
	}
}

func TestThumbprintRefusesPrivateJWK(t *testing.T) {
	jwk := rfc7638Key()
	jwk["d"] = "AQAB"
	if _, err := Thumbprint(jwk); err == nil {
		t.Fatal("thumbprint of a JWK with d, want an error")
	}
}

// TestAccessTokenHashRFC9449Example is the ath of the access token in
// RFC 9449 §7.1.
func TestAccessTokenHashRFC9449Example(t *testing.T) {
	got := accessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
	if want := "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"; got != want {
		t.Fatalf("ath %s, want %s", got, want)
	}
}
