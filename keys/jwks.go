package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwk is one RFC 7517 public key; fields per RFC 7518 §6 and RFC 8037.
type jwk struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

func toJWK(kid, alg string, pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	j := jwk{KID: kid, Alg: alg, Use: "sig"}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jwk{}, fmt.Errorf("unsupported curve %s", k.Curve.Params().Name)
		}
		// Uncompressed point 0x04 || X || Y with fixed-width coordinates,
		// as RFC 7518 §6.2.1.2 requires.
		point, err := k.Bytes()
		if err != nil {
			return jwk{}, err
		}
		size := (len(point) - 1) / 2
		j.Kty, j.Crv = "EC", "P-256"
		j.X, j.Y = b64(point[1:1+size]), b64(point[1+size:])
	case *rsa.PublicKey:
		j.Kty = "RSA"
		j.N = b64(k.N.Bytes())
		j.E = b64(big.NewInt(int64(k.E)).Bytes())
	case ed25519.PublicKey:
		j.Kty, j.Crv = "OKP", "Ed25519"
		j.X = b64(k)
	default:
		return jwk{}, fmt.Errorf("unsupported public key type %T", pub)
	}
	return j, nil
}

func renderJWKS(keys []*key) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk)
	}
	return json.Marshal(set)
}
