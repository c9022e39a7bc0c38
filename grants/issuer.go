package grants

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/clients"
	"authserver/keys"
	"authserver/subjects"
	"authserver/tokens"
)

// KeySource gives the key to sign access tokens with now, the key of an
// algorithm ID Tokens may ask for, and the keys to verify with.
type KeySource interface {
	SigningKey() keys.SigningKey
	SigningKeyFor(alg string) (keys.SigningKey, bool)
	VerificationKey(kid string) (jwt.SigningMethod, crypto.PublicKey, bool)
}

// AccessClaims are the claims of an RFC 9068 access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	// Cnf binds a DPoP token to its key (RFC 9449 §6.1); nil for Bearer.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Issuer mints and verifies RFC 9068 JWT access tokens. go-oauth2's own
// JWT generator sets only aud/sub/exp, no typ, and re-parses the key on
// every call.
type Issuer struct {
	issuer          string
	defaultAudience []string
	keys            KeySource
	parser          *jwt.Parser
	// hintParser checks signatures only: VerifyIDTokenHint checks the
	// claims itself, since a hint may have expired.
	hintParser *jwt.Parser
	header     atomic.Pointer[encodedHeader]
	// subjects is the sub rule of ID Tokens, UserInfo and logout tokens.
	subjects *subjects.Pairwise
	// verified spares Verify the signature check of a token it accepted
	// before.
	verified *verifiedTokens
	now      func() time.Time
}

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
		hintParser: jwt.NewParser(
			jwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}),
			jwt.WithoutClaimsValidation(),
		),
		subjects: subjects.Ephemeral(),
		verified: newVerifiedTokens(),
		now:      time.Now,
	}
}

// SetSubjects sets the pairwise key (subjects.New over the server
// secret). Until it is called the key is random, so pairwise subjects
// would not survive a restart.
func (i *Issuer) SetSubjects(s *subjects.Pairwise) { i.subjects = s }

// Subject is the sub client c sees for userID (subjects.Pairwise.For):
// ID Tokens, UserInfo, logout tokens and id_token_hint checks use it;
// access tokens and introspection keep the user ID.
func (i *Issuer) Subject(c *clients.Client, userID string) string {
	return i.subjects.For(c, userID)
}

// Access describes one access token to mint.
type Access struct {
	ClientID string
	// Audience is the client's registered audience; empty means the
	// issuer's default.
	Audience []string
	// UserID is the resource owner; empty for a client's own token
	// (client_credentials), whose sub is then the client (RFC 9068 §2.2).
	UserID   string
	Scope    string
	JTI      string
	IssuedAt time.Time
	TTL      time.Duration
	// JKT binds the token to a DPoP key (cnf.jkt); empty for Bearer.
	JKT string
}

// Mint signs an RFC 9068 access token.
func (i *Issuer) Mint(a Access) (string, error) {
	sub := a.UserID
	if sub == "" {
		sub = a.ClientID
	}
	jti := a.JTI
	if jti == "" {
		jti = tokens.NewJTI()
	}
	aud := i.defaultAudience
	if len(a.Audience) > 0 {
		aud = a.Audience
	}
	s, err := i.sign(i.keys.SigningKey(), wireClaims{
		Issuer:    i.issuer,
		Subject:   sub,
		Audience:  aud,
		ExpiresAt: a.IssuedAt.Add(a.TTL).Unix(),
		IssuedAt:  a.IssuedAt.Unix(),
		ID:        jti,
		ClientID:  a.ClientID,
		Scope:     a.Scope,
		Cnf:       confirmation(a.JKT),
	})
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// wireClaims are AccessClaims as they are encoded: plain fields, which
// encoding/json writes without the custom marshalers of jwt's claim types.
type wireClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  []string      `json:"aud"`
	ExpiresAt int64         `json:"exp"`
	IssuedAt  int64         `json:"iat"`
	ID        string        `json:"jti"`
	ClientID  string        `json:"client_id"`
	Scope     string        `json:"scope,omitempty"`
	Cnf       *Confirmation `json:"cnf,omitempty"`
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
		b64, err := encodeHeader(k, accessTokenType)
		if err != nil {
			return "", err
		}
		h = &encodedHeader{kid: k.ID, b64: b64}
		i.header.Store(h)
	}
	return signCompact(k, h.b64, c)
}

// accessTokenType is the typ of access tokens (RFC 9068 §2.1); no other
// JWT this server signs carries it, so Verify can tell them apart.
const accessTokenType = "at+jwt"

func encodeHeader(k keys.SigningKey, typ string) (string, error) {
	raw, err := json.Marshal(map[string]string{"alg": k.Method.Alg(), "kid": k.ID, "typ": typ})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// signCompact signs claims under an encoded header as a compact JWS.
func signCompact(k keys.SigningKey, header string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(512))
	buf = append(buf, header...)
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
// returns its claims. A token it accepted before is not checked again
// until its exp (verifiedTokens); the claims are the caller's to keep.
func (i *Issuer) Verify(token string) (*AccessClaims, error) {
	key := sha256.Sum256([]byte(token))
	now := i.now()
	if c, ok := i.verified.get(key, now, i.keys); ok {
		return c, nil
	}
	var claims AccessClaims
	var kid, alg string
	_, err := i.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != accessTokenType && typ != "application/"+accessTokenType {
			return nil, errors.New("not an access token (typ)")
		}
		kid, _ = t.Header["kid"].(string)
		method, pub, ok := i.keys.VerificationKey(kid)
		if !ok || method.Alg() != t.Method.Alg() {
			return nil, errors.New("unknown signing key")
		}
		alg = method.Alg()
		return pub, nil
	})
	if err != nil {
		return nil, err
	}
	i.verified.put(key, &claims, kid, alg, claims.ExpiresAt.Time) // exp is required
	return &claims, nil
}
