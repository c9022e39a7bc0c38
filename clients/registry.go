// Package clients holds the rules for OAuth client registrations: what a
// valid registration is, how secrets are made and checked, and who may use
// which grant.
package clients

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grant types a client may be allowed.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
)

// KnownGrantTypes are the grant types this server implements.
var KnownGrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials, GrantPassword, GrantRefreshToken}

// ErrAuthenticationFailed covers an unknown client, a disabled client and a
// wrong secret alike.
var ErrAuthenticationFailed = errors.New("client authentication failed")

// ValidationError says which field of a registration is wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Registration is what an admin (or a registering app) asks for.
type Registration struct {
	Name         string   `json:"name"`
	Public       bool     `json:"public"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are checked as redirect URIs are.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	// BackchannelLogoutURI: https, or http on loopback; no fragment.
	BackchannelLogoutURI string `json:"backchannel_logout_uri"`
	// BackchannelLogoutSessionRequired needs a BackchannelLogoutURI.
	BackchannelLogoutSessionRequired bool     `json:"backchannel_logout_session_required"`
	Audience                         []string `json:"audience"`
	FirstParty                       bool     `json:"first_party"`
	// IDTokenAlg is id_token_signed_response_alg; empty means RS256.
	IDTokenAlg string `json:"id_token_signed_response_alg"`
	// SubjectType is "public" (empty) or "pairwise"; a pairwise client's
	// redirect URIs must share one host, its sector identifier, unless it
	// names a SectorIdentifierURI that lists them all.
	SubjectType         string `json:"subject_type"`
	SectorIdentifierURI string `json:"sector_identifier_uri"`
	// JWKS or JWKSURI holds a private_key_jwt client's public keys.
	JWKS    json.RawMessage `json:"jwks"`
	JWKSURI string          `json:"jwks_uri"`
}

// Registry creates, checks and authenticates clients.
type Registry struct {
	store           Store
	supportedScopes []string
	now             func() time.Time
	resolver        Resolver      // nil: the store only (see UseResolver)
	anonymousTTL    time.Duration // 0: anonymous clients never expire
	// sectors fetches sector_identifier_uri documents; nil refuses them.
	sectors SectorDocuments
}

// NewRegistry returns a Registry over store. supportedScopes are the
// scopes the server advertises; they bound what self-registered clients may
// ask for (see CheckSupportedScopes), while an admin may give a client any
// well-formed scope, since admins define their APIs' scopes.
func NewRegistry(store Store, supportedScopes []string) *Registry {
	return &Registry{store: store, supportedScopes: supportedScopes, now: time.Now}
}

// Create validates reg, stores a new client and returns it with its secret
// (empty for public clients). The secret is shown this once: only its hash
// is kept.
func (r *Registry) Create(ctx context.Context, reg Registration) (*Client, string, error) {
	c, err := r.validate(reg)
	if err != nil {
		return nil, "", err
	}
	if err := r.checkSector(ctx, c); err != nil {
		return nil, "", err
	}
	c.ID = randomID()
	c.CreatedAt = r.now().UTC()
	c.UpdatedAt = c.CreatedAt
	var secret string
	if c.UsesSecret() {
		secret = randomString(32)
		c.SecretHash = HashSecret(secret)
	}
	if err := r.store.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// CheckSupportedScopes refuses scopes the server does not advertise.
func (r *Registry) CheckSupportedScopes(scopes []string) error {
	for _, s := range scopes {
		if !slices.Contains(r.supportedScopes, s) {
			return &ValidationError{"scopes", fmt.Sprintf("scope %q is not supported by this server", s)}
		}
	}
	return nil
}

// Get returns the client or ErrNotFound.
func (r *Registry) Get(ctx context.Context, id string) (*Client, error) {
	return r.store.GetClient(ctx, id)
}

// List returns every client.
func (r *Registry) List(ctx context.Context) ([]*Client, error) { return r.store.ListClients(ctx) }

// Delete removes a client.
func (r *Registry) Delete(ctx context.Context, id string) error { return r.store.DeleteClient(ctx, id) }

// RotateSecret gives a confidential client a new secret. The old one keeps
// working for overlap (0: stops at once), so deployments can roll over.
func (r *Registry) RotateSecret(ctx context.Context, id string, overlap time.Duration) (*Client, string, error) {
	c, err := r.fresh().GetClient(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if c.Public {
		return nil, "", &ValidationError{Field: "client", Reason: "a public client has no secret"}
	}
	if !c.UsesSecret() {
		return nil, "", &ValidationError{Field: "client", Reason: "a private_key_jwt client has no secret; rotate its keys instead"}
	}
	now := r.now().UTC()
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, time.Time{}
	if overlap > 0 {
		c.PreviousSecretHash, c.PreviousSecretExpiresAt = c.SecretHash, now.Add(overlap)
	}
	secret := randomString(32)
	c.SecretHash = HashSecret(secret)
	c.UpdatedAt = now
	if err := r.store.UpdateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// SetDisabled disables or re-enables a client. A disabled client fails
// authentication, so its refresh tokens stop working at once.
func (r *Registry) SetDisabled(ctx context.Context, id string, disabled bool) (*Client, error) {
	c, err := r.fresh().GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	c.Disabled = disabled
	c.UpdatedAt = r.now().UTC()
	return c, r.store.UpdateClient(ctx, c)
}

// fresh is what a read-modify-write reads from: the store behind the cache,
// so a change never starts from a record another node has changed since.
func (r *Registry) fresh() Store {
	if c, ok := r.store.(*CachedStore); ok {
		return c.Store
	}
	return r.store
}

// EndClientGeneration moves the client's generation on, which ends every
// code, consent and refresh family made under the earlier one
// (tokens.Revoker owns the rule; call it, not this). No such client: nil.
func (r *Registry) EndClientGeneration(ctx context.Context, id string) error {
	c, err := r.fresh().GetClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Generation++
	c.UpdatedAt = r.now().UTC()
	err = r.store.UpdateClient(ctx, c)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted meanwhile
	}
	return err
}

// LiveScope is what remains of a granted scope once the client's own scopes
// have narrowed since: a refresh or a code never carries a scope the client
// no longer has.
func (c *Client) LiveScope(granted string) string {
	var kept []string
	for _, s := range strings.Fields(granted) {
		if slices.Contains(c.Scopes, s) {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, " ")
}

// Lookup returns an enabled client by id for flows that name a client
// without authenticating it (the authorization endpoint, public clients).
func (r *Registry) Lookup(ctx context.Context, id string) (*Client, error) {
	c, err := r.store.GetClient(ctx, id)
	if rc, ok, rerr := r.resolve(ctx, id, err); ok {
		return rc, rerr
	}
	if errors.Is(err, ErrNotFound) || (err == nil && (c.Disabled || r.anonymousExpired(c))) {
		return nil, ErrAuthenticationFailed
	}
	return c, err
}

// Authenticate checks a confidential client's secret in constant time. It
// returns ErrAuthenticationFailed for an unknown or disabled client or a
// wrong secret; other errors are the store's.
func (r *Registry) Authenticate(ctx context.Context, id, secret string) (*Client, error) {
	presented := HashSecret(secret)
	c, err := r.store.GetClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		subtle.ConstantTimeCompare(presented, presented) // same work as a known client
		return nil, ErrAuthenticationFailed
	}
	if err != nil {
		return nil, err
	}
	if c.Disabled || !c.UsesSecret() || !c.SecretMatches(presented, r.now()) {
		return nil, ErrAuthenticationFailed
	}
	return c, nil
}

// SecretMatches reports whether hash is the client's secret hash, or its
// previous one while the rotation overlap lasts.
func (c *Client) SecretMatches(hash []byte, now time.Time) bool {
	ok := len(c.SecretHash) == sha256.Size && subtle.ConstantTimeCompare(hash, c.SecretHash) == 1
	if len(c.PreviousSecretHash) == sha256.Size && now.Before(c.PreviousSecretExpiresAt) {
		ok = subtle.ConstantTimeCompare(hash, c.PreviousSecretHash) == 1 || ok
	}
	return ok
}

// AllowsGrant reports whether the client may use grant type gt. The safe
// default is no: a grant must be listed at registration.
func (c *Client) AllowsGrant(gt string) bool { return slices.Contains(c.GrantTypes, gt) }

// GrantScope checks a requested scope (space-separated) against the scopes
// the client was registered with. An empty request means all of them.
func (c *Client) GrantScope(requested string) (string, bool) {
	if requested == "" {
		return strings.Join(c.Scopes, " "), true
	}
	want, ok := ParseScope(requested)
	if !ok {
		return "", false
	}
	for _, s := range want {
		if !slices.Contains(c.Scopes, s) {
			return "", false
		}
	}
	return strings.Join(want, " "), true
}

// ParseScope splits a scope string (RFC 6749 §3.3) into its distinct tokens,
// keeping their order; ok is false if a token has a character §3.3 forbids.
func ParseScope(s string) ([]string, bool) {
	var out []string
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		if !validScopeToken(tok) {
			return nil, false
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, len(out) > 0
}

func validScopeToken(tok string) bool {
	for i := 0; i < len(tok); i++ {
		b := tok[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return tok != ""
}

// HashSecret is how client secrets are kept: SHA-256. A server-generated
// 256-bit secret cannot be guessed, so a slow hash would only cost
// throughput.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func (r *Registry) validate(reg Registration) (*Client, error) {
	c := &Client{
		Name:         strings.TrimSpace(reg.Name),
		Public:       reg.Public,
		AuthMethod:   reg.AuthMethod,
		FirstParty:   reg.FirstParty,
		GrantTypes:   dedupe(reg.GrantTypes),
		Scopes:       dedupe(reg.Scopes),
		RedirectURIs: dedupe(reg.RedirectURIs),
		Audience:     dedupe(reg.Audience),
		IDTokenAlg:   reg.IDTokenAlg,
		SubjectType:  strings.TrimSpace(reg.SubjectType),
		JWKSURI:      strings.TrimSpace(reg.JWKSURI),

		PostLogoutRedirectURIs: dedupe(reg.PostLogoutRedirectURIs),
		BackchannelLogoutURI:   strings.TrimSpace(reg.BackchannelLogoutURI),

		BackchannelLogoutSessionRequired: reg.BackchannelLogoutSessionRequired,
		SectorIdentifierURI:              strings.TrimSpace(reg.SectorIdentifierURI),
	}
	if c.IDTokenAlg != "" && !slices.Contains(IDTokenAlgs, c.IDTokenAlg) {
		return nil, &ValidationError{"id_token_signed_response_alg", fmt.Sprintf("unsupported %q (want RS256, ES256 or EdDSA)", c.IDTokenAlg)}
	}
	if c.Name == "" || len(c.Name) > 200 {
		return nil, &ValidationError{"name", "required, at most 200 characters"}
	}
	switch {
	case c.AuthMethod == "" && c.Public:
		c.AuthMethod = AuthNone
	case c.AuthMethod == "":
		c.AuthMethod = AuthSecretBasic
	}
	switch c.AuthMethod {
	case AuthSecretBasic, AuthSecretPost:
		if c.Public {
			return nil, &ValidationError{"token_endpoint_auth_method", "a public client must use \"none\""}
		}
	case AuthNone:
		if !c.Public {
			return nil, &ValidationError{"token_endpoint_auth_method", "\"none\" is only for public clients"}
		}
	case AuthPrivateKeyJWT:
		if c.Public {
			return nil, &ValidationError{"token_endpoint_auth_method", "a public client must use \"none\""}
		}
	default:
		return nil, &ValidationError{"token_endpoint_auth_method", fmt.Sprintf("unsupported %q (want client_secret_basic, client_secret_post, private_key_jwt or none)", c.AuthMethod)}
	}
	if err := validateKeys(c, reg.JWKS); err != nil {
		return nil, err
	}
	if len(c.GrantTypes) == 0 {
		return nil, &ValidationError{"grant_types", "at least one grant type is required"}
	}
	for _, gt := range c.GrantTypes {
		if !slices.Contains(KnownGrantTypes, gt) {
			return nil, &ValidationError{"grant_types", fmt.Sprintf("unsupported grant type %q", gt)}
		}
		// A public client cannot keep a secret, so it cannot prove who it is
		// for grants that rest on the client alone (RFC 9700 §2.4 retires
		// the password grant; client_credentials needs a secret).
		if c.Public && (gt == GrantClientCredentials || gt == GrantPassword) {
			return nil, &ValidationError{"grant_types", fmt.Sprintf("a public client cannot use %q", gt)}
		}
	}
	if slices.Equal(c.GrantTypes, []string{GrantRefreshToken}) {
		return nil, &ValidationError{"grant_types", "refresh_token needs a grant that issues refresh tokens"}
	}
	for _, s := range c.Scopes {
		if !validScopeToken(s) {
			return nil, &ValidationError{"scopes", fmt.Sprintf("invalid scope %q", s)}
		}
	}
	if slices.Contains(c.GrantTypes, GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return nil, &ValidationError{"redirect_uris", "required for the authorization_code grant"}
	}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return nil, &ValidationError{"redirect_uris", err.Error()}
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return nil, &ValidationError{"post_logout_redirect_uris", err.Error()}
		}
	}
	if u := c.BackchannelLogoutURI; u != "" {
		if err := ValidateBackchannelLogoutURI(u); err != nil {
			return nil, &ValidationError{"backchannel_logout_uri", err.Error()}
		}
	} else if c.BackchannelLogoutSessionRequired {
		return nil, &ValidationError{"backchannel_logout_session_required", "needs a backchannel_logout_uri"}
	}
	for _, a := range c.Audience {
		if strings.TrimSpace(a) == "" {
			return nil, &ValidationError{"audience", "empty audience"}
		}
	}
	if err := validateSubjectType(c); err != nil {
		return nil, err
	}
	return c, nil
}

// ValidateRedirectURI applies RFC 6749 §3.1.2 and RFC 8252: absolute, no
// fragment, https, or http only on a loopback host, or a private-use scheme
// (reverse domain name) for native apps.
// A refused URI is a *RedirectURIError.
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return &RedirectURIError{raw, "is not an absolute URI"}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return &RedirectURIError{raw, "must not have a fragment"}
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return &RedirectURIError{raw, "has no host"}
		}
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return &RedirectURIError{raw, "is http, which is allowed only for loopback hosts; use https"}
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return &RedirectURIError{raw, "has a scheme that is not allowed: use https, http on loopback, or a private-use scheme such as com.example.app"}
		}
	}
	return nil
}

// ValidateBackchannelLogoutURI is Back-Channel Logout 1.0 §2.2: an
// absolute https URL (http only on a loopback host) with no fragment; a
// server posts to it, so no private-use scheme.
func ValidateBackchannelLogoutURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return &RedirectURIError{raw, "is not an absolute URL"}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return &RedirectURIError{raw, "must not have a fragment"}
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname())) {
		return &RedirectURIError{raw, "must be https (http only on a loopback host)"}
	}
	return nil
}

// RedirectURIError is a refused redirect URI. Reason does not repeat the
// URI, for answers that must not echo a caller's text.
type RedirectURIError struct{ URI, Reason string }

func (e *RedirectURIError) Error() string { return strconv.Quote(e.URI) + " " + e.Reason }

// IsLoopbackHost reports whether host is a loopback literal (RFC 8252 §7.3
// prefers literals to "localhost").
func IsLoopbackHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// randomID is a client id: 128 random bits in hex, which never starts with
// '-' and so never reads as a command-line flag.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	return hex.EncodeToString(b)
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validateSubjectType checks subject_type; "public" is stored as empty. A
// pairwise client needs redirect URIs on one host, or a
// sector_identifier_uri (Core §8.1), which only a pairwise client may name.
func validateSubjectType(c *Client) error {
	switch c.SubjectType {
	case "", SubjectPublic:
		c.SubjectType = ""
		if c.SectorIdentifierURI != "" {
			return &ValidationError{"sector_identifier_uri", "only a pairwise client has a sector"}
		}
		return nil
	case SubjectPairwise:
	default:
		return &ValidationError{"subject_type", fmt.Sprintf("unsupported %q (want public or pairwise)", c.SubjectType)}
	}
	if c.SectorIdentifierURI != "" {
		return validateSectorURI(c.SectorIdentifierURI) // checkSector fetches it
	}
	if len(c.RedirectURIs) == 0 {
		return &ValidationError{"subject_type", "a pairwise client needs redirect URIs: their host is its sector identifier"}
	}
	if !OneSector(c.RedirectURIs) {
		return &ValidationError{"subject_type", "a pairwise client's redirect URIs on several hosts need a sector_identifier_uri listing them"}
	}
	return nil
}

// OneSector reports whether redirect URIs all have one host, which can
// then be a pairwise client's sector identifier (Core §8.1).
func OneSector(uris []string) bool {
	for _, u := range uris {
		if redirectHost(u) != redirectHost(uris[0]) {
			return false
		}
	}
	return true
}
