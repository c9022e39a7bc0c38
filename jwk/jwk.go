// Package jwk reads and writes public JSON Web Keys (RFC 7517, 7518, 8037)
// in one strict way for every part of the server that meets a client's or
// an issuer's key: DPoP proofs, private_key_jwt key sets, and the JWKS a
// resource server fetches.
package jwk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Key size limits: below 2048 bits RSA is too weak to prove anything;
// above 8192 one signature would cost the server too much to verify.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// PrivateMembers are the JWK members only private or symmetric keys have
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). A key that carries one has
// given its secret away, so it proves nothing.
var PrivateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Errors ParsePublic wraps, for callers that skip what they cannot use
// (RFC 7517 §5) but refuse what is wrong.
var (
	ErrPrivate     = errors.New("jwk carries private key material")
	ErrUnsupported = errors.New("jwk key type not supported")
)

// ParsePublic turns a JWK's members into a public key. It accepts EC
// P-256 and P-384, RSA of 2048 to 8192 bits and OKP Ed25519, each in its
// one canonical encoding, and nothing that carries private members.
func ParsePublic(jwk map[string]any) (crypto.PublicKey, error) {
	for _, name := range PrivateMembers {
		if _, ok := jwk[name]; ok {
			return nil, fmt.Errorf("%w: jwk has the private member %q", ErrPrivate, name)
		}
	}
	kty, err := member(jwk, "kty")
	if err != nil {
		return nil, err
	}
	switch kty {
	case "EC":
		return parseEC(jwk)
	case "RSA":
		return parseRSA(jwk)
	case "OKP":
		return parseOKP(jwk)
	}
	return nil, fmt.Errorf("%w: jwk kty %q is not supported", ErrUnsupported, kty)
}

func parseEC(jwk map[string]any) (crypto.PublicKey, error) {
	crv, err := member(jwk, "crv")
	if err != nil {
		return nil, err
	}
	curve, size := ecCurve(crv)
	if curve == nil {
		return nil, fmt.Errorf("%w: jwk crv %q is not supported", ErrUnsupported, crv)
	}
	x, err := fixedBytes(jwk, "x", size)
	if err != nil {
		return nil, err
	}
	y, err := fixedBytes(jwk, "y", size)
	if err != nil {
		return nil, err
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, errors.New("jwk is not a point on its curve")
	}
	return pub, nil
}

func ecCurve(crv string) (elliptic.Curve, int) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32
	case "P-384":
		return elliptic.P384(), 48
	}
	return nil, 0
}

func parseRSA(jwk map[string]any) (crypto.PublicKey, error) {
	n, err := minimalBytes(jwk, "n")
	if err != nil {
		return nil, err
	}
	e, err := minimalBytes(jwk, "e")
	if err != nil {
		return nil, err
	}
	modulus := new(big.Int).SetBytes(n)
	if bits := modulus.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("jwk RSA key has %d bits, not %d to %d", bits, minRSABits, maxRSABits)
	}
	// A public exponent is odd and at least 3; crypto/rsa wants it to fit
	// in 31 bits.
	if len(e) > 4 {
		return nil, errors.New("jwk RSA exponent is too large")
	}
	var exponent uint64
	for _, b := range e {
		exponent = exponent<<8 | uint64(b)
	}
	if exponent < 3 || exponent%2 == 0 || exponent > 1<<31-1 {
		return nil, errors.New("jwk RSA exponent is not valid")
	}
	return &rsa.PublicKey{N: modulus, E: int(exponent)}, nil
}

func parseOKP(jwk map[string]any) (crypto.PublicKey, error) {
	crv, err := member(jwk, "crv")
	if err != nil {
		return nil, err
	}
	if crv != "Ed25519" {
		return nil, fmt.Errorf("%w: jwk crv %q is not supported", ErrUnsupported, crv)
	}
	x, err := fixedBytes(jwk, "x", ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(x), nil
}

// member is a required string member of a JWK.
func member(jwk map[string]any, name string) (string, error) {
	v, ok := jwk[name].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("jwk has no %q string", name)
	}
	return v, nil
}

// fixedBytes decodes a member that must be exactly size bytes long (EC
// coordinates are full length, RFC 7518 §6.2.1.2).
func fixedBytes(jwk map[string]any, name string, size int) ([]byte, error) {
	v, err := member(jwk, name)
	if err != nil {
		return nil, err
	}
	raw, err := b64.decode(v)
	if err != nil || len(raw) != size {
		return nil, fmt.Errorf("jwk %q is not %d base64url bytes", name, size)
	}
	return raw, nil
}

// minimalBytes decodes an unsigned integer member that must have no
// leading zero octet (RFC 7518 §6.3.1).
func minimalBytes(jwk map[string]any, name string) ([]byte, error) {
	v, err := member(jwk, name)
	if err != nil {
		return nil, err
	}
	raw, err := b64.decode(v)
	if err != nil || len(raw) == 0 || raw[0] == 0 {
		return nil, fmt.Errorf("jwk %q is not a minimal base64url integer", name)
	}
	return raw, nil
}

// Canonical members of each key type, in the lexicographic order RFC 7638
// §3.2 hashes them; encoding/json keeps struct field order.
type (
	ecMembers struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}
	rsaMembers struct {
		E   string `json:"e"`
		Kty string `json:"kty"`
		N   string `json:"n"`
	}
	okpMembers struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
	}
)

// Canonical is the JSON of a supported public key with only its required
// members, in RFC 7638 order, encoded afresh from the key (never from a
// client's strings), so one key always has one JWK and one thumbprint.
func Canonical(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		size := (len(point) - 1) / 2
		var crv string
		switch k.Curve {
		case elliptic.P256():
			crv = "P-256"
		case elliptic.P384():
			crv = "P-384"
		default:
			return nil, errors.New("jwk: EC curve is not supported")
		}
		return json.Marshal(ecMembers{Crv: crv, Kty: "EC",
			X: b64.encode(point[1 : 1+size]), Y: b64.encode(point[1+size:])})
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes()
		return json.Marshal(rsaMembers{E: b64.encode(e), Kty: "RSA", N: b64.encode(k.N.Bytes())})
	case ed25519.PublicKey:
		return json.Marshal(okpMembers{Crv: "Ed25519", Kty: "OKP", X: b64.encode(k)})
	}
	return nil, fmt.Errorf("jwk: key type %T is not supported", pub)
}

// Public is the canonical JWK of a key as members, checked the way
// ParsePublic will check it.
func Public(pub crypto.PublicKey) (map[string]any, error) {
	raw, err := Canonical(pub)
	if err != nil {
		return nil, err
	}
	var jwk map[string]any
	if err := json.Unmarshal(raw, &jwk); err != nil {
		return nil, err
	}
	if _, err := ParsePublic(jwk); err != nil {
		return nil, err
	}
	return jwk, nil
}
