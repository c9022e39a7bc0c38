// Package store names what a storage backend provides. Domain packages each
// declare the narrow contract they need (clients.Store, tokens.RefreshStore,
// ...); a backend implements all of them, and main hands each consumer only
// its own contract. Backends: store/embedded (the default, one file on disk)
// and store/redis (standalone, Sentinel or Cluster). store/storetest is the
// conformance suite both must pass.
package store

import (
	"context"
	"time"

	"authserver/clients"
	"authserver/keys"
	"authserver/ratelimit"
	"authserver/registration"
	"authserver/resources"
	"authserver/sessions"
	"authserver/tokens"
	"authserver/users"
)

// Backend is everything one storage backend provides.
type Backend interface {
	clients.Store
	users.Store
	keys.Store
	ratelimit.Store
	tokens.RefreshStore
	tokens.CodeStore
	tokens.DenyList
	sessions.Store
	registration.TokenStore
	resources.Store
	// RememberOnce records key until until and reports whether it was
	// fresh: false when it is recorded already and not expired. It is
	// atomic, so of many callers with one key exactly one gets true; the
	// replay checks of client assertions and DPoP proofs rest on it. Keys
	// are stored hashed.
	RememberOnce(ctx context.Context, key string, until time.Time) (fresh bool, err error)
	// Ping answers nil when the store can serve now; readiness checks use
	// it, so it must be cheap.
	Ping(ctx context.Context) error
	Close() error
}
