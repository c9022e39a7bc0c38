package clients

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	AuthNone        = "none"
	// AuthPrivateKeyJWT is a JWT signed with the client's own key (RFC
	// 7523 §2.2, OpenID Connect Core §9): the client holds no secret.
	AuthPrivateKeyJWT = "private_key_jwt"
)

// Client is a registered OAuth client as the store keeps it. Secrets are never
// stored: only their SHA-256 (a server-generated secret of 256 bits needs no
// slow hash).
type Client struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	SecretHash []byte `json:"secret_hash,omitempty"`
	// PreviousSecretHash keeps working until PreviousSecretExpiresAt, so a
	// secret can be rotated without an outage.
	PreviousSecretHash      []byte    `json:"previous_secret_hash,omitempty"`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at,omitzero"`

	Public       bool     `json:"public"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// user back to (OpenID Connect RP-Initiated Logout 1.0 §3.1).
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// BackchannelLogoutURI receives a logout token when a user's session
	// ends (Back-Channel Logout 1.0 §2.2); empty: none is sent.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// SectorIdentifierURI names a pairwise client's sector (Core §8.1):
	// a JSON list of redirect URIs, checked when the client is saved.
	SectorIdentifierURI string `json:"sector_identifier_uri,omitempty"`
	// BackchannelLogoutSessionRequired: the client wants a sid in every
	// logout token, so it is sent none without one (§2.2).
	BackchannelLogoutSessionRequired bool     `json:"backchannel_logout_session_required,omitempty"`
	Audience                         []string `json:"audience,omitempty"`
	// FirstParty clients skip the consent page.
	FirstParty bool `json:"first_party,omitempty"`
	// IDTokenAlg is the JWS alg of the client's ID Tokens; empty means
	// RS256 (see IDTokenSigningAlg).
	IDTokenAlg string `json:"id_token_signed_response_alg,omitempty"`
	// SubjectType is "public" (empty) or "pairwise" (OpenID Connect Core
	// 1.0 §8): the sub its ID Tokens, UserInfo answers and logout tokens
	// carry.
	SubjectType string `json:"subject_type,omitempty"`
	// JWKS (inline, public keys only) or JWKSURI (fetched) holds the keys
	// of a private_key_jwt client; never both.
	JWKS     json.RawMessage `json:"jwks,omitempty"`
	JWKSURI  string          `json:"jwks_uri,omitempty"`
	Disabled bool            `json:"disabled,omitempty"`
	// Generation moves on whenever the client is revoked (disabled,
	// deleted): codes, consents and refresh families made under an earlier
	// one are dead.
	Generation int64 `json:"generation,omitempty"`

	// RegistrationTokenHash is the SHA-256 of the RFC 7592 registration
	// access token of a self-registered client; empty for admin-created
	// clients, which no registration token can manage.
	RegistrationTokenHash []byte `json:"registration_token_hash,omitempty"`
	// Metadata is what a self-registered client said about itself.
	Metadata Metadata `json:"metadata,omitzero"`
	// MetadataDocument marks a client built from its client ID metadata
	// document (see Unverified); such a client is never stored.
	MetadataDocument bool `json:"-"`
	// Anonymous marks a client registered without an initial access token
	// under registration.anonymous; it is deleted when unused (LastUsedAt).
	Anonymous bool `json:"anonymous,omitempty"`
	// LastUsedAt is when an anonymous client was last issued a token,
	// recorded at most once per hour; zero: never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store errors every backend returns.
var (
	ErrNotFound = errors.New("client not found")
	ErrExists   = errors.New("client already exists")
)

// Store keeps client registrations.
type Store interface {
	// CreateClient stores c; ErrExists if its ID is taken.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client or ErrNotFound.
	GetClient(ctx context.Context, id string) (*Client, error)
	// UpdateClient replaces an existing client; ErrNotFound if there is none.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client; ErrNotFound if there is none.
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns every client, ordered by ID.
	ListClients(ctx context.Context) ([]*Client, error)
}

// Subject types (OpenID Connect Core 1.0 §8).
const (
	SubjectPublic   = "public"
	SubjectPairwise = "pairwise"
)

// SubjectTypes are the subject_type values clients may register.
var SubjectTypes = []string{SubjectPublic, SubjectPairwise}

// Pairwise reports whether the client sees pairwise subjects.
func (c *Client) Pairwise() bool { return c.SubjectType == SubjectPairwise }

// SubjectTypeOrDefault is the client's subject_type, "public" when unset.
func (c *Client) SubjectTypeOrDefault() string {
	if c.SubjectType == "" {
		return SubjectPublic
	}
	return c.SubjectType
}

// SectorIdentifier is the host of the client's sector_identifier_uri, or
// else of its redirect URIs (Core §8.1: without one, a pairwise client's
// redirect URIs all share one host). Empty without any.
func (c *Client) SectorIdentifier() string {
	if c.SectorIdentifierURI != "" {
		return sectorHost(c.SectorIdentifierURI)
	}
	if len(c.RedirectURIs) == 0 {
		return ""
	}
	return redirectHost(c.RedirectURIs[0])
}

// redirectHost is the host (without port) of a redirect URI, lower-cased.
func redirectHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// DefaultIDTokenAlg signs the ID Tokens of a client that names no alg:
// OpenID Connect Core §15.1 makes RS256 the one every provider implements.
const DefaultIDTokenAlg = "RS256"

// IDTokenAlgs are the id_token_signed_response_alg values clients may
// register, and so the algorithms the key set holds a key of.
var IDTokenAlgs = []string{DefaultIDTokenAlg, "ES256", "EdDSA"}

// IDTokenSigningAlg is the alg the client's ID Tokens are signed with.
func (c *Client) IDTokenSigningAlg() string {
	if c.IDTokenAlg == "" {
		return DefaultIDTokenAlg
	}
	return c.IDTokenAlg
}
