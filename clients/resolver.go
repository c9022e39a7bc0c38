package clients

import (
	"context"
	"errors"
)

// Resolver finds clients the store does not hold: a client that names
// itself by a URL whose document describes it (see package cimd). The
// clients it returns are built in memory, never stored.
type Resolver interface {
	// Resolves reports, without I/O, whether id is one this resolver
	// answers for.
	Resolves(id string) bool
	// Resolve returns the client id names; a *ResolveError when the id's
	// document cannot be used.
	Resolve(ctx context.Context, id string) (*Client, error)
}

// ResolveError is a client ID a Resolver could not turn into a client.
// It is ErrAuthenticationFailed to every caller, so each answers as for an
// unknown client; Reason says why, for the pages and error descriptions
// that may show it (it never carries the fetched document).
type ResolveError struct{ Reason string }

func (e *ResolveError) Error() string { return "client metadata document: " + e.Reason }

func (e *ResolveError) Unwrap() error { return ErrAuthenticationFailed }

// UseResolver makes Lookup fall back on res for an ID the store does not
// hold. Call it while wiring, before the registry serves.
func (r *Registry) UseResolver(res Resolver) { r.resolver = res }

// resolve is Lookup's fallback; ok is false when no resolver answers id.
func (r *Registry) resolve(ctx context.Context, id string, err error) (*Client, bool, error) {
	if r.resolver == nil || !errors.Is(err, ErrNotFound) || !r.resolver.Resolves(id) {
		return nil, false, nil
	}
	c, err := r.resolver.Resolve(ctx, id)
	return c, true, err
}

// Unverified reports whether the client describes itself and no
// administrator has looked at it (a client ID metadata document): it is
// never first-party and is always asked for consent.
func (c *Client) Unverified() bool { return c.MetadataDocument }
