package resource

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config describes the API a Validator guards and the issuer it trusts.
type Config struct {
	// Issuer is the authorization server's issuer URL, compared exactly
	// with the iss of every token.
	Issuer string
	// Audience is this API's resource identifier (an http or https URL
	// without fragment): tokens must name it in aud, and it is the
	// resource of the protected resource metadata (RFC 9728).
	Audience string
	// JWKSURL is where the issuer's keys are; empty means the jwks_uri of
	// the issuer's RFC 8414 metadata, or Issuer+"/jwks" without one.
	JWKSURL string
	// HTTPClient fetches metadata and keys; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// RequiredScopes must all be in every token any Middleware accepts;
	// the scopes given to Middleware add to them.
	RequiredScopes []string
	// Leeway allows for clock skew on exp, nbf and iat; 0 means 30 s.
	Leeway time.Duration
	// DPoP checks the proofs of DPoP-bound tokens; nil refuses them.
	DPoP DPoPVerifier
	// DPoPSigningAlgs are the proof algorithms named in DPoP challenges
	// and metadata; empty means ES256, RS256 and EdDSA.
	DPoPSigningAlgs []string
	// Now is the clock of token lifetimes and key caching; nil means
	// time.Now.
	Now func() time.Time
	// Logger hears about key fetch failures; nil discards.
	Logger *slog.Logger

	// Realm is the realm of challenges; empty means Audience.
	Realm string
	// ResourceName, ScopesSupported and Documentation are published in
	// the protected resource metadata (resource_name, scopes_supported,
	// resource_documentation).
	ResourceName    string
	ScopesSupported []string
	Documentation   string
}

const defaultLeeway = 30 * time.Second

var defaultDPoPAlgs = []string{"ES256", "RS256", "EdDSA"}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		return c, errors.New("resource: Issuer is required")
	}
	if err := checkResourceURL(c.Audience); err != nil {
		return c, fmt.Errorf("resource: Audience: %w", err)
	}
	if c.Leeway < 0 {
		return c, errors.New("resource: Leeway must not be negative")
	}
	if c.Leeway == 0 {
		c.Leeway = defaultLeeway
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Realm == "" {
		c.Realm = c.Audience
	}
	if len(c.DPoPSigningAlgs) == 0 {
		c.DPoPSigningAlgs = defaultDPoPAlgs
	}
	for _, s := range append(append([]string{}, c.RequiredScopes...), c.ScopesSupported...) {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return c, fmt.Errorf("resource: malformed scope %q", s)
		}
	}
	return c, nil
}

// checkResourceURL applies RFC 9728 §1.2 to a resource identifier, with
// http allowed too for local development.
func checkResourceURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q has a fragment", raw)
	}
	return nil
}
