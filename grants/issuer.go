package grants

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/golang-jwt/jwt/v5"

	"authserver/keys"
	"authserver/tokens"
)

// KeySource gives the key to sign with now and the keys to verify with.
type KeySource interface {
	SigningKey() keys.SigningKey
	VerificationKey(kid string) (jwt.SigningMethod, crypto.PublicKey, bool)
}

// AccessClaims are the claims of an RFC 9068 access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
}

// Issuer mints and verifies RFC 9068 JWT access tokens. It is the
// oauth2.AccessGenerate of the server; go-oauth2's own JWT generator sets
// only aud/sub/exp, no typ, and re-parses the key on every call.
type Issuer struct {
	issuer          string
	defaultAudience []string
	keys            KeySource
	parser          *jwt.Parser
	header          atomic.Pointer[encodedHeader]
}

var _ oauth2.AccessGenerate = (*Issuer)(nil)

// NewIssuer returns an Issuer for the issuer URL; tokens of clients that
// name no audience get defaultAudience.
func NewIssuer(issuer string, defaultAudience []string, ks KeySource) *Issuer {
	return &Issuer{
		issuer:          issuer,
		defaultAudience: defaultAudience,
		keys:            ks,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
	}
}

// Token signs the access token described by data.TokenInfo. It never makes
// a refresh token: those belong to a family and are minted by the grants.
func (i *Issuer) Token(_ context.Context, data *oauth2.GenerateBasic, _ bool) (string, string, error) {
	ti := data.TokenInfo
	sub := ti.GetUserID()
	if sub == "" {
		sub = ti.GetClientID() // RFC 9068 §2.2: client_credentials tokens name the client
	}
	jti := tokens.NewJTI()
	if ext, ok := ti.(oauth2.ExtendableTokenInfo); ok && ext.GetExtension().Get(jtiKey) != "" {
		jti = ext.GetExtension().Get(jtiKey)
	}
	aud := i.defaultAudience
	if a, ok := data.Client.(interface{ Audience() []string }); ok && len(a.Audience()) > 0 {
		aud = a.Audience()
	}
	created := ti.GetAccessCreateAt()
	s, err := i.sign(i.keys.SigningKey(), wireClaims{
		Issuer:    i.issuer,
		Subject:   sub,
		Audience:  aud,
		ExpiresAt: created.Add(ti.GetAccessExpiresIn()).Unix(),
		IssuedAt:  created.Unix(),
		ID:        jti,
		ClientID:  ti.GetClientID(),
		Scope:     ti.GetScope(),
	})
	if err != nil {
		return "", "", fmt.Errorf("sign access token: %w", err)
	}
	return s, "", nil
}

// wireClaims are AccessClaims as they are encoded: plain fields, which
// encoding/json writes without the custom marshalers of jwt's claim types.
type wireClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
}

// encodedHeader is the JOSE header of one signing key, encoded once.
type encodedHeader struct {
	kid string
	b64 string
}

// sign builds the compact JWS itself and signs it with golang-jwt's
// signing method: jwt.Token.SignedString would marshal the same header map
// again for every token, on the hot path of every grant.
func (i *Issuer) sign(k keys.SigningKey, c wireClaims) (string, error) {
	h := i.header.Load()
	if h == nil || h.kid != k.ID {
		raw, err := json.Marshal(map[string]string{"alg": k.Method.Alg(), "kid": k.ID, "typ": "at+jwt"})
		if err != nil {
			return "", err
		}
		h = &encodedHeader{kid: k.ID, b64: base64.RawURLEncoding.EncodeToString(raw)}
		i.header.Store(h)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(h.b64)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(512))
	buf = append(buf, h.b64...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.Method.Sign(string(buf), k.Private)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// URL is the issuer URL, the iss of every token.
func (i *Issuer) URL() string { return i.issuer }

// Verify checks an access token's signature, type, issuer and lifetime and
// returns its claims.
func (i *Issuer) Verify(token string) (*AccessClaims, error) {
	var claims AccessClaims
	_, err := i.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != "at+jwt" && typ != "application/at+jwt" {
			return nil, errors.New("not an access token (typ)")
		}
		kid, _ := t.Header["kid"].(string)
		method, pub, ok := i.keys.VerificationKey(kid)
		if !ok || method.Alg() != t.Method.Alg() {
			return nil, errors.New("unknown signing key")
		}
		return pub, nil
	})
	if err != nil {
		return nil, err
	}
	return &claims, nil
}
