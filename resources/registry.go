package resources

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"authserver/cache"
)

// Registry is the resource registry every node serves from memory: the
// token endpoint resolves the resources of a request without a store round
// trip once they are cached. Writes go through to the store and are
// announced on changes, so a deleted resource stops at once on every node
// (and within the cache TTL should an announcement be lost).
type Registry struct {
	store Store
	cache *cache.Cache[Resource]
	now   func() time.Time
}

// NewRegistry serves the resources of s. changes may be nil when this is
// the only node; log receives failures to announce a change.
func NewRegistry(s Store, changes cache.Changes, ttl time.Duration, log *slog.Logger) *Registry {
	return &Registry{store: s, cache: cache.New[Resource]("resource", changes, ttl, log), now: time.Now}
}

// Run follows the change announcements until ctx ends.
func (r *Registry) Run(ctx context.Context) error { return r.cache.Run(ctx) }

// Create validates and stores a new resource.
func (r *Registry) Create(ctx context.Context, res Resource) (Resource, error) {
	res, err := Validate(res)
	if err != nil {
		return res, err
	}
	res.CreatedAt = r.now().UTC().Truncate(time.Millisecond)
	return res, r.cache.Written(ctx, res.ID, r.store.CreateResource(ctx, res))
}

// Get returns the resource, from memory when it can.
func (r *Registry) Get(ctx context.Context, id string) (Resource, error) {
	if r == nil {
		return Resource{}, ErrNotFound
	}
	res, err := r.cache.Get(ctx, id, r.store.GetResource)
	if err != nil {
		return Resource{}, err
	}
	res.Scopes = append([]string(nil), res.Scopes...) // the cached copy stays as it is
	return res, nil
}

// List returns every resource, from the store.
func (r *Registry) List(ctx context.Context) ([]Resource, error) { return r.store.ListResources(ctx) }

// Delete removes the resource and announces it. Tokens already minted for
// it live on until they expire; no new one is minted.
func (r *Registry) Delete(ctx context.Context, id string) error {
	return r.cache.Written(ctx, id, r.store.DeleteResource(ctx, id))
}

// ErrUnknown is returned by Resolve for an identifier that is not
// registered.
var ErrUnknown = errors.New("a resource is not registered")

// Registered returns those of ids that are registered, in order, skipping
// the rest: a grant's resources when the request names none, so one that
// was deleted since drops out instead of failing the grant.
func (r *Registry) Registered(ctx context.Context, ids []string) ([]Resource, error) {
	out := make([]Resource, 0, len(ids))
	for _, id := range ids {
		res, err := r.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// Resolve returns the registered resources named by ids, in order:
// ErrUnknown if any is not registered, or the store's error. A nil
// Registry knows none.
func (r *Registry) Resolve(ctx context.Context, ids []string) ([]Resource, error) {
	out := make([]Resource, 0, len(ids))
	for _, id := range ids {
		res, err := r.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, ErrUnknown
		}
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}
