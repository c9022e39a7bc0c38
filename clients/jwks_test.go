package clients_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"authserver/clients"
)

var b64 = base64.RawURLEncoding.EncodeToString

func ecJWK(t *testing.T, kid string) (map[string]any, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.PublicKey.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(raw[1:33]), "y": b64(raw[33:])}, k
}

func set(keys ...map[string]any) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func plus(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// A private_key_jwt client registers public keys only, by value or by
// https URL, never both; private or symmetric key material, weak keys and
// key sets of no use are refused, and no other client may carry keys.
func TestClientKeysValidation(t *testing.T) {
	r, _ := newRegistry(t)
	ec, ecPriv := ecJWK(t, "k1")
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ed := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(edPriv.Public().(ed25519.PublicKey))}
	cc := []string{"client_credentials"}
	pk := func(jwks json.RawMessage, uri string) clients.Registration {
		return clients.Registration{Name: "m", AuthMethod: clients.AuthPrivateKeyJWT, GrantTypes: cc, JWKS: jwks, JWKSURI: uri}
	}
	cases := []struct {
		name  string
		reg   clients.Registration
		field string // "" when valid
		why   string
	}{
		{"inline EC key", pk(set(ec), ""), "", ""},
		{"inline Ed25519 key, other key types skipped", pk(set(ed, map[string]any{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}), ""), "", ""},
		{"jwks_uri", pk(nil, "https://keys.example/jwks.json"), "", ""},
		{"private EC key", pk(set(plus(ec, "d", b64(ecPriv.D.Bytes()))), ""), "jwks", `private or symmetric key material ("d")`},
		{"private RSA factors", pk(set(plus(ec, "p", "AQAB")), ""), "jwks", `("p")`},
		{"symmetric key", pk(set(map[string]any{"kty": "oct", "k": "c2VjcmV0"}), ""), "jwks", `("k")`},
		{"weak RSA key", pk(set(map[string]any{"kty": "RSA", "n": b64(weak.N.Bytes()), "e": b64(big.NewInt(65537).Bytes())}), ""), "jwks", "RSA key has 1024 bits"},
		{"point off the curve", pk(set(plus(ec, "y", b64(make([]byte, 32)))), ""), "jwks", "not a point on its curve"},
		{"alg that does not fit the key", pk(set(plus(ec, "alg", "RS256")), ""), "jwks", "does not fit"},
		{"only encryption keys", pk(set(plus(ec, "use", "enc")), ""), "jwks", "no signing key"},
		{"empty set", pk(json.RawMessage(`{"keys":[]}`), ""), "jwks", "no signing key"},
		{"not a set", pk(json.RawMessage(`[1]`), ""), "jwks", "not a JWK Set"},
		{"both", pk(set(ec), "https://keys.example/jwks.json"), "jwks", "not both"},
		{"neither", pk(nil, ""), "jwks", "needs jwks or jwks_uri"},
		{"http jwks_uri", pk(nil, "http://keys.example/jwks.json"), "jwks_uri", "must be https"},
		{"jwks_uri with a fragment", pk(nil, "https://keys.example/jwks.json#x"), "jwks_uri", "fragment"},
		{"public private_key_jwt", clients.Registration{Name: "m", Public: true, AuthMethod: clients.AuthPrivateKeyJWT, GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://a.example/cb"}, JWKS: set(ec)}, "token_endpoint_auth_method", ""},
		{"secret client with keys", clients.Registration{Name: "m", GrantTypes: cc, JWKS: set(ec)}, "jwks", "only for private_key_jwt"},
		{"secret client with jwks_uri", clients.Registration{Name: "m", GrantTypes: cc, JWKSURI: "https://keys.example/j"}, "jwks", "only for private_key_jwt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, secret, err := r.Create(context.Background(), c.reg)
			var ve *clients.ValidationError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field == "":
				if secret != "" || len(cl.SecretHash) != 0 {
					t.Fatal("a private_key_jwt client was given a secret")
				}
			case !errors.As(err, &ve) || ve.Field != c.field || !strings.Contains(ve.Reason, c.why):
				t.Fatalf("got %v, want a %s error saying %q", err, c.field, c.why)
			}
		})
	}
}

// No secret authenticates a private_key_jwt client, whatever it stores.
func TestPrivateKeyJWTClientHasNoSecret(t *testing.T) {
	r, st := newRegistry(t)
	ec, _ := ecJWK(t, "k1")
	c, _, err := r.Create(context.Background(), clients.Registration{Name: "m", AuthMethod: clients.AuthPrivateKeyJWT, GrantTypes: []string{"client_credentials"}, JWKS: set(ec)})
	if err != nil {
		t.Fatal(err)
	}
	// Even a secret hash written straight into the record is not accepted.
	c.SecretHash = clients.HashSecret("planted")
	if err := st.UpdateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "planted"} {
		if _, err := r.Authenticate(context.Background(), c.ID, s); !errors.Is(err, clients.ErrAuthenticationFailed) {
			t.Fatalf("Authenticate(%q) = %v, want ErrAuthenticationFailed", s, err)
		}
	}
}
