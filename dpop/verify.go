package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of a Verifier's zero fields.
const (
	DefaultMaxAge  = 60 * time.Second
	DefaultMaxSkew = 5 * time.Second
)

// Bounds on what a client may make the server parse and store.
const (
	maxProofBytes = 8 << 10 // an 8192-bit RSA jwk and all claims fit easily
	maxJTIBytes   = 256
)

// Verifier checks DPoP proofs (RFC 9449 §4.3). Its fields are read-only
// once it is in use; one Verifier serves any number of goroutines.
type Verifier struct {
	// Algorithms accepted (empty: DefaultAlgorithms). Only asymmetric ones
	// this package supports can ever be accepted; none, HS* or anything
	// unknown listed here are still refused.
	Algorithms []string
	// MaxAge is how far iat may lie in the past (0: DefaultMaxAge).
	MaxAge time.Duration
	// MaxSkew is how far iat may lie in the future (0: DefaultMaxSkew).
	MaxSkew time.Duration
	// Replay refuses a proof seen before (nil: no replay check, so a proof
	// captured in transit can be used again until it is MaxAge old).
	Replay ReplayCache
	// Nonces, when set, requires every proof to carry a current nonce.
	Nonces *Nonces
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Request is what one proof is checked against.
type Request struct {
	// Proof is the value of the request's one DPoP header (see HeaderValue).
	Proof string
	// Method is the HTTP method, compared exactly with htm.
	Method string
	// URL is the request URL as clients reach the server (scheme, host,
	// path; a query or fragment is ignored), compared with htu.
	URL string
	// AccessToken is the access token the request presents, whose hash ath
	// must be; "" at the token endpoint.
	AccessToken string
	// ExpectedJKT is the thumbprint the token is bound to (cnf.jkt, or the
	// refresh family's key); "" when nothing is bound yet.
	ExpectedJKT string
}

// Proof is an accepted proof.
type Proof struct {
	JKT       string // thumbprint of the proof key: bind tokens to it
	JTI       string
	IssuedAt  time.Time
	PublicKey crypto.PublicKey
}

// parser verifies signatures only: Verify checks iat itself, with its own
// window, and a proof has no exp.
var parser = jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())

// Verify checks r.Proof against the request and returns the proof when
// every check of RFC 9449 §4.3 passes. A refused proof is an *Error of
// ErrInvalidProof, ErrUseNonce or ErrKeyMismatch; any other error is the
// server's (a request URL that does not parse, the replay cache failing).
func (v *Verifier) Verify(ctx context.Context, r Request) (*Proof, error) {
	if err := checkCompactJWS(r.Proof); err != nil {
		return nil, err
	}
	wantHTU, err := normalizeHTU(r.URL)
	if err != nil {
		return nil, fmt.Errorf("dpop: request URL %q: %w", r.URL, err)
	}

	var claims proofClaims
	var pub crypto.PublicKey
	var keyErr error
	_, err = parser.ParseWithClaims(r.Proof, &claims, func(t *jwt.Token) (any, error) {
		pub, keyErr = v.proofKey(t)
		return pub, keyErr
	})
	if keyErr != nil {
		return nil, keyErr
	}
	if err != nil {
		return nil, jwtError(err)
	}

	if claims.JTI == "" || len(claims.JTI) > maxJTIBytes {
		return nil, invalid(fmt.Sprintf("jti is missing or longer than %d bytes", maxJTIBytes))
	}
	// An empty htm never matches, even a caller's empty Method.
	if claims.HTM == "" || claims.HTM != r.Method {
		return nil, invalid("htm does not match the request method")
	}
	if htu, err := normalizeHTU(claims.HTU); err != nil || htu != wantHTU {
		return nil, invalid("htu does not match the request URL")
	}
	iat, ok := claims.issuedAt()
	if !ok {
		return nil, invalid("iat is missing or not a time")
	}
	now := v.now()
	if iat.Before(now.Add(-v.maxAge())) {
		return nil, invalid("proof is too old")
	}
	if iat.After(now.Add(v.maxSkew())) {
		return nil, invalid("iat is in the future")
	}
	if r.AccessToken != "" && claims.ATH != accessTokenHash(r.AccessToken) {
		return nil, invalid("ath does not match the access token")
	}
	jkt, err := ThumbprintKey(pub)
	if err != nil {
		return nil, err
	}
	if r.ExpectedJKT != "" && jkt != r.ExpectedJKT {
		return nil, &Error{Code: ErrKeyMismatch, Description: "proof key is not the key the token is bound to"}
	}
	if v.Nonces != nil {
		if claims.Nonce == "" {
			return nil, useNonce("a DPoP nonce is required")
		}
		if !v.Nonces.Valid(claims.Nonce, now) {
			return nil, useNonce("the DPoP nonce is stale")
		}
	}
	// Last, so a proof refused for any other reason uses no cache entry.
	if v.Replay != nil {
		fresh, err := v.Replay.Remember(ctx, replayKey(jkt, claims.JTI), iat.Add(v.maxAge()+v.maxSkew()))
		if err != nil {
			return nil, fmt.Errorf("dpop: replay cache: %w", err)
		}
		if !fresh {
			return nil, invalid("proof was already used")
		}
	}
	return &Proof{JKT: jkt, JTI: claims.JTI, IssuedAt: iat, PublicKey: pub}, nil
}

// proofKey checks the JOSE header of a proof and returns the key in its
// jwk, which golang-jwt then verifies the signature with.
func (v *Verifier) proofKey(t *jwt.Token) (crypto.PublicKey, error) {
	if typ, _ := t.Header["typ"].(string); typ != proofType {
		return nil, invalid("typ is not " + proofType)
	}
	alg := t.Method.Alg()
	if !v.allows(alg) || !slices.Contains(supportedAlgorithms, alg) {
		return nil, invalid(fmt.Sprintf("alg %q is not allowed", alg))
	}
	// No extension is understood, so any critical one must be refused
	// (RFC 7515 §4.1.11).
	if _, ok := t.Header["crit"]; ok {
		return nil, invalid("crit header is not supported")
	}
	jwk, ok := t.Header["jwk"].(map[string]any)
	if !ok {
		return nil, invalid("jwk header is missing")
	}
	pub, err := parseJWK(jwk)
	if err != nil {
		return nil, invalid(err.Error())
	}
	if !keyFitsAlg(pub, alg) {
		return nil, invalid("jwk is not a key for alg " + alg)
	}
	return pub, nil
}

// jwtError describes a proof golang-jwt refused before or after the
// header checks of proofKey.
func jwtError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("proof is not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return invalid("alg is missing or unknown")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("signature does not verify")
	}
	return invalid("proof is not a valid JWT")
}

// replayKey names a proof in the replay cache. The thumbprint (fixed
// length, no "|") comes first, so proofs of two keys never share a key
// even with the same jti.
func replayKey(jkt, jti string) string { return jkt + "|" + jti }

// accessTokenHash is the ath of an access token (RFC 9449 §4.2).
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.encode(sum[:])
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxAge() time.Duration {
	if v.MaxAge > 0 {
		return v.MaxAge
	}
	return DefaultMaxAge
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}
