package grants

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/golang-jwt/jwt/v5"

	"authserver/audit"
	"authserver/clients"
)

// JWTBearerAssertion is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const JWTBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Bounds on a client assertion. A short lifetime keeps the replay record
// small and a stolen assertion nearly useless; the skew forgives clocks
// that are a little apart.
const (
	MaxAssertionLifetime = 5 * time.Minute
	assertionSkew        = 30 * time.Second
	maxAssertionBytes    = 8 << 10
	maxJTILen            = 256
)

// ReplayStore remembers what may be used once (store.Backend.RememberOnce):
// fresh is false when key is recorded already and not expired.
type ReplayStore interface {
	RememberOnce(ctx context.Context, key string, until time.Time) (fresh bool, err error)
}

// hasAssertion reports whether a request authenticates with a client
// assertion (either parameter present: a lone one is an error, not a
// fallback to another method).
func hasAssertion(r *http.Request) bool {
	_, t := r.PostForm["client_assertion_type"]
	_, a := r.PostForm["client_assertion"]
	return t || a
}

// assertionClaims are the claims RFC 7523 §3 requires of a client
// assertion.
type assertionClaims struct {
	jwt.RegisteredClaims
}

// clientFromAssertion authenticates a private_key_jwt client (RFC 7523
// §2.2 and §3, OpenID Connect Core §9). Every failure is invalid_client,
// audited, with a description that echoes nothing the caller sent; a
// store outage is returned as it is (503).
func (e *Endpoint) clientFromAssertion(r *http.Request) (*clients.Client, credentials, error) {
	ctx := r.Context()
	creds := credentials{id: r.PostForm.Get("client_id"), assertion: true}
	fail := func(desc string, attrs ...any) (*clients.Client, credentials, error) {
		e.events.Warn(ctx, audit.ClientAuthFailed, append([]any{audit.ClientID(creds.id), audit.Reason(desc)}, attrs...)...)
		return nil, creds, oauthErr(oerrors.ErrInvalidClient, "%s", desc)
	}
	// RFC 6749 §2.3: one authentication method per request.
	if r.Header.Get("Authorization") != "" {
		return nil, creds, oauthErr(oerrors.ErrInvalidRequest, "use one client authentication method: a client assertion or Basic credentials, not both")
	}
	if _, ok := r.PostForm["client_secret"]; ok {
		return nil, creds, oauthErr(oerrors.ErrInvalidRequest, "use one client authentication method: a client assertion or client_secret, not both")
	}
	if r.PostForm.Get("client_assertion_type") != JWTBearerAssertion {
		return fail("client_assertion_type must be " + JWTBearerAssertion)
	}
	raw := r.PostForm.Get("client_assertion")
	switch {
	case raw == "":
		return fail("client_assertion is required")
	case len(raw) > maxAssertionBytes:
		return fail("the client assertion is too large")
	}
	var unverified assertionClaims
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &unverified)
	if err != nil {
		return fail("the client assertion is not a well-formed JWT")
	}
	iss, sub := unverified.Issuer, unverified.Subject
	switch {
	case iss == "" || iss != sub:
		return fail("the client assertion's iss and sub must both be the client_id")
	case creds.id != "" && creds.id != iss:
		return fail("client_id does not match the client assertion's iss")
	}
	creds.id = iss
	c, err := e.clients.Lookup(ctx, iss)
	if errors.Is(err, clients.ErrAuthenticationFailed) {
		return fail("client authentication failed")
	}
	if err != nil {
		return nil, creds, err
	}
	if c.AuthMethod != clients.AuthPrivateKeyJWT {
		return fail("this client is not registered for private_key_jwt")
	}
	kid, _ := tok.Header["kid"].(string)
	alg, _ := tok.Header["alg"].(string)
	if !slices.Contains(clients.AssertionAlgs, alg) {
		return fail("the client assertion's alg is not accepted (RS256, PS256, ES256 or EdDSA)")
	}
	var claims assertionClaims
	if err := e.clientKeys.verify(ctx, c, kid, alg, func(keys jwt.VerificationKeySet) error {
		_, err := jwt.NewParser(jwt.WithValidMethods(clients.AssertionAlgs), jwt.WithoutClaimsValidation()).
			ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return keys, nil })
		return err
	}); err != nil {
		var ke *keysError
		if errors.As(err, &ke) {
			return fail(ke.desc, slog.String("err", ke.Error()))
		}
		return fail("the client assertion's signature does not verify with the client's keys")
	}
	now := e.now()
	if desc := e.checkAssertionClaims(&claims.RegisteredClaims, now); desc != "" {
		return fail(desc)
	}
	if e.replay == nil {
		return fail("private_key_jwt is not available on this server")
	}
	// One use per (client, jti) for as long as the assertion could pass.
	fresh, err := e.replay.RememberOnce(ctx, "client_assertion\x00"+c.ID+"\x00"+claims.ID, claims.ExpiresAt.Add(assertionSkew))
	if err != nil {
		return nil, creds, err
	}
	if !fresh {
		return fail("the client assertion was used before: make a new one, with a new jti, for every request")
	}
	return c, creds, nil
}

// checkAssertionClaims is RFC 7523 §3 on the verified claims; it returns
// the failure's description, or "" when the claims pass.
func (e *Endpoint) checkAssertionClaims(c *jwt.RegisteredClaims, now time.Time) string {
	switch {
	case c.ExpiresAt == nil:
		return "the client assertion needs an exp"
	case !now.Before(c.ExpiresAt.Add(assertionSkew)):
		return "the client assertion has expired"
	case c.ExpiresAt.After(now.Add(MaxAssertionLifetime + assertionSkew)):
		return "the client assertion's exp is too far ahead: at most 5 minutes"
	case c.NotBefore != nil && c.NotBefore.After(now.Add(assertionSkew)):
		return "the client assertion is not valid yet (nbf)"
	case c.IssuedAt != nil && c.IssuedAt.After(now.Add(assertionSkew)):
		return "the client assertion's iat is in the future"
	case c.ID == "":
		return "the client assertion needs a jti"
	case len(c.ID) > maxJTILen:
		return "the client assertion's jti is too long"
	case !e.assertionAudience(c.Audience):
		return "the client assertion's aud must be this server's issuer identifier (or its token endpoint URL) and nothing else"
	}
	return ""
}

// assertionAudience is the aud rule of draft-ietf-oauth-rfc7523bis: the
// issuer identifier as the one audience (the token endpoint URL, which
// RFC 7523 and OpenID Connect Core §9 name, is accepted too), so an
// assertion made for another server, or for several, is refused.
func (e *Endpoint) assertionAudience(aud jwt.ClaimStrings) bool {
	if len(aud) != 1 {
		return false
	}
	issuer := e.issuer.URL()
	return aud[0] == issuer || aud[0] == issuer+"/token"
}
