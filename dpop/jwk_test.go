package dpop

import (
	"crypto/elliptic"
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

func TestParseJWKAcceptsEachKeyType(t *testing.T) {
	for _, pub := range []any{
		newECKey(t, elliptic.P256()).Public(),
		newECKey(t, elliptic.P384()).Public(),
		rsaKey(t, 2048).Public(),
		newEdKey(t).Public(),
	} {
		jwk, err := publicJWK(pub)
		if err != nil {
			t.Fatalf("%T: %v", pub, err)
		}
		if _, err := parseJWK(jwk); err != nil {
			t.Fatalf("%T: %v", pub, err)
		}
	}
}

func TestParseJWKRefusesPrivateMembers(t *testing.T) {
	public, _ := publicJWK(newECKey(t, elliptic.P256()).Public())
	for _, name := range privateMembers {
		jwk := maps.Clone(public)
		jwk[name] = "AQAB"
		if _, err := parseJWK(jwk); err == nil || !strings.Contains(err.Error(), "private member") {
			t.Errorf("jwk with %q: error %v, want a private member refused", name, err)
		}
	}
}

func TestParseJWKRefuses(t *testing.T) {
	ec, _ := publicJWK(newECKey(t, elliptic.P256()).Public())
	rsa, _ := publicJWK(rsaKey(t, 2048).Public())
	ed, _ := publicJWK(newEdKey(t).Public())
	point, _ := newECKey(t, elliptic.P521()).PublicKey.Bytes()
	p521 := map[string]any{"kty": "EC", "crv": "P-521", "x": b64.encode(point[1:67]), "y": b64.encode(point[67:])}
	with := func(base map[string]any, changes map[string]any) map[string]any {
		m := maps.Clone(base)
		override(m, changes)
		return m
	}
	x := ec["x"].(string)
	n := rsa["n"].(string)
	nBytes, _ := b64.decode(n)
	cases := []struct {
		name string
		jwk  map[string]any
		why  string
	}{
		{"no kty", with(ec, map[string]any{"kty": nil}), "kty"},
		{"kty oct", map[string]any{"kty": "oct", "alg": "HS256"}, "kty"},
		{"kty a number", with(ec, map[string]any{"kty": 1}), "kty"},
		{"EC P-521", p521, "crv"},
		{"EC secp256k1", with(ec, map[string]any{"crv": "secp256k1"}), "crv"},
		{"EC x missing", with(ec, map[string]any{"x": nil}), `"x"`},
		{"EC x short", with(ec, map[string]any{"x": x[:len(x)-2]}), `"x"`},
		{"EC x padded", with(ec, map[string]any{"x": x + "="}), `"x"`},
		{"EC x standard base64", with(ec, map[string]any{"x": "+" + x[1:]}), `"x"`},
		{"EC x with line break", with(ec, map[string]any{"x": x[:10] + "\n" + x[10:]}), `"x"`},
		{"EC point not on the curve", with(ec, map[string]any{"y": ec["x"]}), "curve"},
		{"EC x of the wrong type", with(ec, map[string]any{"x": []byte("x")}), `"x"`},
		{"RSA 1024 bits", mustJWK(t, rsaKey(t, 1024).Public()), "1024 bits"},
		{"RSA n with a leading zero", with(rsa, map[string]any{"n": b64.encode(append([]byte{0}, nBytes...))}), `"n"`},
		{"RSA e even", with(rsa, map[string]any{"e": b64.encode([]byte{1, 0, 0})}), "exponent"},
		{"RSA e one", with(rsa, map[string]any{"e": b64.encode([]byte{1})}), "exponent"},
		{"RSA e too large", with(rsa, map[string]any{"e": b64.encode([]byte{1, 0, 0, 0, 1})}), "exponent"},
		{"RSA e missing", with(rsa, map[string]any{"e": nil}), `"e"`},
		{"OKP X25519", with(ed, map[string]any{"crv": "X25519"}), "crv"},
		{"OKP Ed448", with(ed, map[string]any{"crv": "Ed448"}), "crv"},
		{"OKP x short", with(ed, map[string]any{"x": b64.encode(make([]byte, 31))}), `"x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseJWK(c.jwk)
			if err == nil || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("error %v, want one about %s", err, c.why)
			}
		})
	}
}

// mustJWK is the JWK of any key canonicalJWK encodes, even one parseJWK
// refuses.
func mustJWK(t *testing.T, pub any) map[string]any {
	t.Helper()
	raw, err := canonicalJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
