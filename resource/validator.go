package resource

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token is an accepted access token.
type Token struct {
	// Subject is the resource owner, or the client itself for a
	// client_credentials token (RFC 9068 §2.2).
	Subject   string
	ClientID  string
	Scopes    []string
	Audience  []string
	ExpiresAt time.Time
	JTI       string
	// JKT is the JWK SHA-256 thumbprint the token is bound to (cnf.jkt,
	// RFC 9449 §6); empty for a bearer token.
	JKT string
	// Claims are all claims as decoded JSON.
	Claims map[string]any
}

// HasScope reports whether the token grants scope.
func (t *Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Validator checks access tokens for one resource. It is safe for
// concurrent use; keys are fetched on first need, not by New.
type Validator struct {
	cfg    Config
	keys   *keyCache
	parser *jwt.Parser
}

// New returns a Validator for cfg.
func New(cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Validator{
		cfg:  cfg,
		keys: newKeyCache(cfg),
		parser: jwt.NewParser(
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
		),
	}, nil
}

// allowedAlgs are the asymmetric algorithms authserver signs with; none
// and the HMAC ones are never accepted, since the key set is public.
// keyFor checks them before any key is looked up.
var allowedAlgs = []string{"ES256", "RS256", "EdDSA"}

// maxTokenBytes bounds what is parsed at all.
const maxTokenBytes = 16 << 10

// Validate checks token as RFC 9068 §4 says: typ at+jwt, an allowed
// algorithm, a signature by one of the issuer's keys, iss, aud, exp, nbf
// and iat. It does not check scopes or DPoP binding (Authenticate does);
// a refusal is an *Error wrapping one of the Err values.
func (v *Validator) Validate(ctx context.Context, token string) (*Token, error) {
	if token == "" {
		return nil, invalidToken(ErrMalformed, "empty")
	}
	if len(token) > maxTokenBytes {
		return nil, invalidToken(ErrMalformed, "too long")
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.keyFor(ctx, t)
	})
	if err != nil {
		return nil, refusal(err)
	}
	return tokenFrom(claims)
}

// keyFor checks the header and finds the key it names.
func (v *Validator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, fmt.Errorf("%w: %s", ErrType, cmp.Or(typ, "none"))
	}
	// RFC 7515 §4.1.11: no extension here is understood.
	if _, ok := t.Header["crit"]; ok {
		return nil, fmt.Errorf("%w: crit header", ErrMalformed)
	}
	alg := t.Method.Alg()
	if !slices.Contains(allowedAlgs, alg) {
		return nil, fmt.Errorf("%w: %s", ErrAlgorithm, alg)
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	k, err := v.keys.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if (k.alg != "" && k.alg != alg) || !keyFits(alg, k.key) {
		return nil, fmt.Errorf("%w: key %s is not for %s", ErrAlgorithm, kid, alg)
	}
	return k.key, nil
}

// keyFits reports whether key is of the type alg signs with.
func keyFits(alg string, key any) bool {
	switch key.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256"
	case *rsa.PublicKey:
		return alg == "RS256"
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// refusal maps a parse error to an *Error; keyFor's own reasons come
// through wrapped by jwt.
func refusal(err error) error {
	for _, reason := range []error{ErrType, ErrAlgorithm, ErrUnknownKey, ErrMalformed} {
		if errors.Is(err, reason) {
			return invalidToken(reason, detail(err, reason))
		}
	}
	switch {
	case errors.Is(err, ErrKeysUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Description: ErrKeysUnavailable.Error(), err: ErrKeysUnavailable}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidToken(ErrSignature, "")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalidToken(ErrIssuer, "")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalidToken(ErrAudience, "")
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalidToken(ErrExpired, "")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalidToken(ErrNotYetValid, "")
	}
	return invalidToken(ErrMalformed, "")
}

// detail is what err says past reason, for the error description.
func detail(err, reason error) string {
	_, after, ok := strings.Cut(err.Error(), reason.Error())
	if !ok {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(after, ":"))
}

// tokenFrom reads the RFC 9068 §2.2 claims, which must be present.
func tokenFrom(c jwt.MapClaims) (*Token, error) {
	str := func(name string) string { s, _ := c[name].(string); return s }
	t := &Token{Subject: str("sub"), ClientID: str("client_id"), JTI: str("jti"), Scopes: strings.Fields(str("scope")), Claims: c}
	if _, iat := c["iat"]; !iat || t.Subject == "" || t.ClientID == "" || t.JTI == "" {
		return nil, invalidToken(ErrMalformed, "sub, client_id, iat and jti are required")
	}
	if _, ok := c["scope"]; ok && str("scope") == "" {
		return nil, invalidToken(ErrMalformed, "scope is not a string")
	}
	t.Audience, _ = c.GetAudience()
	if exp, _ := c.GetExpirationTime(); exp != nil {
		t.ExpiresAt = exp.Time
	}
	if cnf, ok := c["cnf"]; ok {
		// A binding this package cannot check (mTLS x5t#S256, say) must
		// not pass as a bearer token.
		m, _ := cnf.(map[string]any)
		jkt, _ := m["jkt"].(string)
		if jkt == "" {
			return nil, invalidToken(ErrMalformed, "unsupported cnf")
		}
		t.JKT = jkt
	}
	return t, nil
}
