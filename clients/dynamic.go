package clients

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
)

// Metadata is the descriptive part of a self-registered client's metadata
// (RFC 7591 §2): kept as given and handed back, never acted upon.
type Metadata struct {
	ClientURI       string   `json:"client_uri,omitempty"`
	LogoURI         string   `json:"logo_uri,omitempty"`
	TOSURI          string   `json:"tos_uri,omitempty"`
	PolicyURI       string   `json:"policy_uri,omitempty"`
	Contacts        []string `json:"contacts,omitempty"`
	SoftwareID      string   `json:"software_id,omitempty"`
	SoftwareVersion string   `json:"software_version,omitempty"`
}

// Register creates a client for dynamic registration (RFC 7591): Create,
// plus a registration access token (RFC 7592) that is returned this once
// and stored as its SHA-256. A self-registered client is never first-party,
// names no audience, and may only ask for scopes the server advertises. With
// no name, the client is named by its ID.
func (r *Registry) Register(ctx context.Context, reg Registration, md Metadata) (c *Client, secret, regToken string, err error) {
	return r.register(ctx, reg, md, false)
}

// RegisterAnonymous is Register for a client registered without an
// initial access token under the anonymous rules (checked by the caller):
// it is marked Anonymous, and expires when unused (ExpireAnonymousAfter).
func (r *Registry) RegisterAnonymous(ctx context.Context, reg Registration, md Metadata) (c *Client, regToken string, err error) {
	if !reg.Public {
		return nil, "", &ValidationError{"token_endpoint_auth_method", "an anonymous client must be public (\"none\")"}
	}
	c, _, regToken, err = r.register(ctx, reg, md, true)
	return c, regToken, err
}

func (r *Registry) register(ctx context.Context, reg Registration, md Metadata, anonymous bool) (c *Client, secret, regToken string, err error) {
	id := randomID()
	if c, err = r.prepareDynamic(reg, id); err != nil {
		return nil, "", "", err
	}
	if err := r.checkSector(ctx, c); err != nil {
		return nil, "", "", err
	}
	c.ID = id
	c.Metadata = md
	c.Anonymous = anonymous
	c.CreatedAt = r.now().UTC()
	c.UpdatedAt = c.CreatedAt
	if c.UsesSecret() {
		secret = randomString(32)
		c.SecretHash = HashSecret(secret)
	}
	regToken = randomString(32)
	c.RegistrationTokenHash = HashSecret(regToken)
	if err := r.store.CreateClient(ctx, c); err != nil {
		return nil, "", "", err
	}
	return c, secret, regToken, nil
}

// CheckRegistration reports whether Register would accept reg, storing
// nothing, so a caller can refuse bad metadata, a sector document
// included, before spending anything.
func (r *Registry) CheckRegistration(ctx context.Context, reg Registration) error {
	c, err := r.prepareDynamic(reg, "unnamed")
	if err != nil {
		return err
	}
	return r.checkSector(ctx, c)
}

// prepareDynamic validates reg under the rules of self-registration;
// defaultName stands in for a missing name.
func (r *Registry) prepareDynamic(reg Registration, defaultName string) (*Client, error) {
	if err := r.CheckSupportedScopes(reg.Scopes); err != nil {
		return nil, err
	}
	reg.FirstParty, reg.Audience = false, nil
	if strings.TrimSpace(reg.Name) == "" {
		reg.Name = defaultName
	}
	return r.validate(reg)
}

// AuthenticateRegistration returns the client whose registration access
// token is token, comparing hashes in constant time. An unknown client, a
// client registered by an admin (it has no token) and a wrong token all give
// ErrAuthenticationFailed.
func (r *Registry) AuthenticateRegistration(ctx context.Context, id, token string) (*Client, error) {
	presented := HashSecret(token)
	c, err := r.store.GetClient(ctx, id)
	if errors.Is(err, ErrNotFound) {
		subtle.ConstantTimeCompare(presented, presented) // same work as a known client
		return nil, ErrAuthenticationFailed
	}
	if err != nil {
		return nil, err
	}
	if token == "" || len(c.RegistrationTokenHash) != sha256.Size || r.anonymousExpired(c) ||
		subtle.ConstantTimeCompare(presented, c.RegistrationTokenHash) != 1 {
		return nil, ErrAuthenticationFailed
	}
	return c, nil
}

// UpdateRegistration replaces the metadata of the self-registered client c
// (RFC 7592 §2.2) with reg and md, under the rules of Register. What the
// client cannot choose stays: its ID, secret, registration token, creation
// time and disabled flag. A client cannot move between public and
// confidential: that would leave it with a secret it cannot keep, or
// without one.
func (r *Registry) UpdateRegistration(ctx context.Context, c *Client, reg Registration, md Metadata) (*Client, error) {
	if reg.Public != c.Public {
		return nil, &ValidationError{"token_endpoint_auth_method", "cannot change between \"none\" and a client secret method; register a new client instead"}
	}
	if (reg.AuthMethod == AuthPrivateKeyJWT) != (c.AuthMethod == AuthPrivateKeyJWT) {
		return nil, &ValidationError{"token_endpoint_auth_method", "cannot change between private_key_jwt and a client secret method; register a new client instead"}
	}
	u, err := r.prepareDynamic(reg, c.ID)
	if err != nil {
		return nil, err
	}
	if err := r.checkSector(ctx, u); err != nil {
		return nil, err
	}
	u.ID = c.ID
	u.Metadata = md
	u.SecretHash = slices.Clone(c.SecretHash)
	u.PreviousSecretHash, u.PreviousSecretExpiresAt = slices.Clone(c.PreviousSecretHash), c.PreviousSecretExpiresAt
	u.RegistrationTokenHash = slices.Clone(c.RegistrationTokenHash)
	u.Disabled, u.Generation = c.Disabled, c.Generation
	u.Anonymous, u.LastUsedAt = c.Anonymous, c.LastUsedAt
	u.CreatedAt = c.CreatedAt
	u.UpdatedAt = r.now().UTC()
	if err := r.store.UpdateClient(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}
