package dpop

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// NewProof makes a DPoP proof for one request, as a client does: for
// method and targetURL (its query and fragment left out of htu), carrying
// ath when accessToken is set and nonce when the server asked for one.
// key is an *ecdsa.PrivateKey (ES256 on P-256, ES384 on P-384), an
// *rsa.PrivateKey (RS*, PS*, 2048 bits or more) or an ed25519.PrivateKey
// (EdDSA).
func NewProof(key crypto.Signer, alg string, method, targetURL, accessToken, nonce string, now time.Time) (string, error) {
	signing := jwt.GetSigningMethod(alg)
	if signing == nil || !keyFitsAlg(key.Public(), alg) {
		return "", fmt.Errorf("dpop: alg %q does not fit a %T", alg, key)
	}
	jwk, err := publicJWK(key.Public())
	if err != nil {
		return "", err
	}
	htu, err := withoutQuery(targetURL)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	iat := float64(now.Unix())
	claims := &proofClaims{
		JTI:   b64.encode(jti),
		HTM:   method,
		HTU:   htu,
		IAT:   &iat,
		Nonce: nonce,
	}
	if accessToken != "" {
		claims.ATH = accessTokenHash(accessToken)
	}
	token := jwt.NewWithClaims(signing, claims)
	token.Header["typ"] = proofType
	token.Header["jwk"] = jwk
	return token.SignedString(key)
}

func withoutQuery(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("dpop: target URL: %w", err)
	}
	if !u.IsAbs() || u.Host == "" {
		return "", errors.New("dpop: target URL is not absolute")
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String(), nil
}
