// Package resources is the registry of protected resources: the APIs that
// clients may ask access tokens for with RFC 8707 resource indicators. A
// resource is named by its identifier URI, which becomes the aud of the
// tokens minted for it, and lists the scopes it accepts, so a token for it
// carries no scope meant for another API.
package resources

import (
	"context"
	"errors"
	"time"
)

// Resource is one registered protected resource.
type Resource struct {
	// ID is the resource identifier (RFC 8707 §2): an absolute https URI
	// (http on a loopback host) without fragment or query, compared
	// exactly.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Scopes are the scopes the resource accepts; a token for it carries
	// no other.
	Scopes []string `json:"scopes"`
	// AccessTokenTTL shortens the lifetime of its access tokens; 0 means
	// the server's access_ttl, which it never lengthens.
	AccessTokenTTL time.Duration `json:"access_token_ttl,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
}

// Accepts reports whether the resource accepts scope s.
func (r *Resource) Accepts(s string) bool {
	for _, have := range r.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

// Store errors every backend returns.
var (
	ErrNotFound = errors.New("resource not found")
	ErrExists   = errors.New("resource already exists")
)

// Store keeps the registered resources.
type Store interface {
	// CreateResource stores r; ErrExists if its ID is taken.
	CreateResource(ctx context.Context, r Resource) error
	// GetResource returns the resource or ErrNotFound.
	GetResource(ctx context.Context, id string) (Resource, error)
	// ListResources returns every resource, ordered by ID.
	ListResources(ctx context.Context) ([]Resource, error)
	// DeleteResource removes the resource; ErrNotFound if there is none.
	DeleteResource(ctx context.Context, id string) error
}
