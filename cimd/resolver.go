package cimd

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"authserver/clients"
	"authserver/fetcher"
)

// Resolver is a clients.Resolver for client_id URLs. A document is
// fetched once per cache lifetime (fetcher.Cache: its cache headers,
// within the cache's bounds; a failure is remembered briefly), and parsed
// on every lookup, so a changed document takes effect when it is refetched.
type Resolver struct {
	cache    *fetcher.Cache
	scopes   []string
	maxBytes int64
}

// New resolves through cache; scopes bound what a document's client may be
// granted. maxBytes is the fetcher's body cap, for the error that names it.
func New(cache *fetcher.Cache, scopes []string, maxBytes int64) *Resolver {
	return &Resolver{cache: cache, scopes: slices.Clone(scopes), maxBytes: maxBytes}
}

// Resolves reports whether id is meant as a client_id URL.
func (r *Resolver) Resolves(id string) bool { return LooksLikeURL(id) }

// Resolve fetches and checks the document id names. Every refusal is a
// *clients.ResolveError, never a store error: a client's broken document
// is the client's fault, not an outage of this server.
func (r *Resolver) Resolve(ctx context.Context, id string) (*clients.Client, error) {
	if reason := CheckClientID(id); reason != "" {
		return nil, &clients.ResolveError{Reason: reason}
	}
	resp, err := r.cache.Get(ctx, id, "application/json")
	if err != nil {
		return nil, &clients.ResolveError{Reason: r.fetchReason(err)}
	}
	c, reason := parse(id, resp.Body, r.scopes)
	if reason != "" {
		return nil, &clients.ResolveError{Reason: reason}
	}
	return c, nil
}

// fetchReason says why a fetch failed without the URL's path or the body.
func (r *Resolver) fetchReason(err error) string {
	switch {
	case errors.Is(err, fetcher.ErrHostNotAllowed):
		return "this server does not accept clients from the client_id's host"
	case errors.Is(err, fetcher.ErrForbiddenAddress):
		return "the client_id's host is not on the public internet"
	case errors.Is(err, fetcher.ErrScheme):
		return "the client_id is not a URL this server fetches"
	case errors.Is(err, fetcher.ErrTooLarge):
		return fmt.Sprintf("the document is larger than %d bytes", r.maxBytes)
	case errors.Is(err, fetcher.ErrRedirect):
		return "the client_id URL redirects; the document must be served at the URL itself"
	case errors.Is(err, fetcher.ErrStatus):
		return "the client_id URL did not answer 200 with the document"
	case errors.Is(err, context.DeadlineExceeded):
		return "fetching the document timed out"
	default:
		return "the document could not be fetched"
	}
}
