package grants

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/keys"
)

// scopeOpenID asks for an OpenID Connect ID Token (Core §3.1.2.1).
const scopeOpenID = "openid"

// grantsOpenID reports whether a granted scope includes openid: only then
// does an answer carry an ID Token, so OAuth-only clients see no change.
func grantsOpenID(scope string) bool { return slices.Contains(strings.Fields(scope), scopeOpenID) }

// IDToken describes one OpenID Connect ID Token to mint (Core §2).
type IDToken struct {
	ClientID string
	UserID   string
	// Subject is the sub the client sees (Issuer.Subject); empty means
	// UserID.
	Subject string
	// Alg is the client's id_token_signed_response_alg.
	Alg      string
	AuthTime time.Time
	// Nonce is echoed exactly; empty (a refresh, or none sent) leaves it out.
	Nonce string
	// SessionID is the sid (Back-Channel Logout 1.0 §2.1) of the session
	// the user signed in with; empty leaves it out.
	SessionID string
	// AccessToken is the access token issued beside it, for at_hash.
	AccessToken string
	IssuedAt    time.Time
	TTL         time.Duration
}

// idClaims are the claims of an ID Token as they are encoded. aud is the
// client alone, so azp is never needed (Core §2).
type idClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ExpiresAt int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	AtHash    string `json:"at_hash,omitempty"`
	SessionID string `json:"sid,omitempty"`
}

// idTokenType is the typ of ID Tokens: plain JWT, never at+jwt, so an ID
// Token is never taken for an access token.
const idTokenType = "JWT"

// MintIDToken signs an ID Token with the current key of t.Alg.
func (i *Issuer) MintIDToken(t IDToken) (string, error) {
	k, ok := i.keys.SigningKeyFor(t.Alg)
	if !ok {
		return "", fmt.Errorf("sign ID token: no %s signing key", t.Alg)
	}
	sub := t.Subject
	if sub == "" {
		sub = t.UserID
	}
	c := idClaims{
		Issuer: i.issuer, Subject: sub, Audience: t.ClientID,
		ExpiresAt: t.IssuedAt.Add(t.TTL).Unix(), IssuedAt: t.IssuedAt.Unix(), Nonce: t.Nonce,
		SessionID: t.SessionID,
	}
	if !t.AuthTime.IsZero() {
		c.AuthTime = t.AuthTime.Unix()
	}
	if t.AccessToken != "" {
		h, err := atHash(t.Alg, t.AccessToken)
		if err != nil {
			return "", err
		}
		c.AtHash = h
	}
	header, err := encodeHeader(k, idTokenType)
	if err != nil {
		return "", err
	}
	s, err := signCompact(k, header, c)
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	return s, nil
}

// atHash is the at_hash of an access token (Core §3.1.3.6): the left half
// of its hash under the hash of alg, base64url. EdDSA (Ed25519) hashes
// with SHA-512, as relying parties such as go-oidc expect.
func atHash(alg, accessToken string) (string, error) {
	var h hash.Hash
	switch alg {
	case keys.RS256, keys.ES256:
		h = sha256.New()
	case keys.EdDSA:
		h = sha512.New()
	default:
		return "", fmt.Errorf("at_hash: unsupported alg %q", alg)
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// hintClaims are the claims of an id_token_hint that are checked.
type hintClaims struct {
	jwt.RegisteredClaims
}

// IDTokenHint is what an id_token_hint says: whose session it names and
// which client it was issued to.
type IDTokenHint struct {
	Subject  string
	ClientID string
}

// ErrInvalidHint is an id_token_hint this server did not issue as an ID
// Token, or issued to another client than the one presenting it.
var ErrInvalidHint = errors.New("invalid id_token_hint")

// ParseIDTokenHint checks an ID Token given back as id_token_hint (Core
// §3.1.2.1, RP-Initiated Logout 1.0 §2): signed by one of our keys, typ,
// iss, a subject and one audience. Expiry is not checked: a hint is
// usually an old ID Token, and it grants nothing.
func (i *Issuer) ParseIDTokenHint(raw string) (IDTokenHint, error) {
	var claims hintClaims
	_, err := i.hintParser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != idTokenType {
			return nil, errors.New("not an ID Token (typ)")
		}
		kid, _ := t.Header["kid"].(string)
		method, pub, ok := i.keys.VerificationKey(kid)
		if !ok || method.Alg() != t.Method.Alg() {
			return nil, errors.New("unknown signing key")
		}
		return pub, nil
	})
	// Our ID Tokens name their client alone in aud.
	if err != nil || claims.Issuer != i.issuer || claims.Subject == "" || len(claims.Audience) != 1 {
		return IDTokenHint{}, ErrInvalidHint
	}
	return IDTokenHint{Subject: claims.Subject, ClientID: claims.Audience[0]}, nil
}

// VerifyIDTokenHint is ParseIDTokenHint for a hint clientID presents at
// /authorize: it must be that client's, and its subject is returned, as
// that client sees it (compare with Issuer.Subject, not the user ID).
func (i *Issuer) VerifyIDTokenHint(raw, clientID string) (string, error) {
	h, err := i.ParseIDTokenHint(raw)
	if err != nil {
		return "", err
	}
	if h.ClientID != clientID {
		return "", ErrInvalidHint
	}
	return h.Subject, nil
}
