package keys

import (
	"context"
	"errors"
	"time"
)

// StoredKey is one signing key as the store keeps it: the private key sealed
// (AES-256-GCM under the configured key-encryption secret), the public key in
// the clear, and the times of its life. Records written before those times
// existed load with them zero: such a key signs since CreatedAt and is never
// retired until an operator retires it.
type StoredKey struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	Sealed    []byte    `json:"sealed"` // sealed PKCS#8 private key
	Public    []byte    `json:"public"` // PKIX public key
	CreatedAt time.Time `json:"created_at"`
	// ActivatesAt is when the key may start signing; until then it is only
	// published. Zero means CreatedAt.
	ActivatesAt time.Time `json:"activates_at,omitzero"`
	// RetiresAt is when the key leaves JWKS and verification; zero means
	// not retired.
	RetiresAt time.Time `json:"retires_at,omitzero"`
}

// SignsFrom is when k may start signing.
func (k StoredKey) SignsFrom() time.Time {
	if k.ActivatesAt.IsZero() {
		return k.CreatedAt
	}
	return k.ActivatesAt
}

// ErrKeyNotFound is a kid the store does not hold.
var ErrKeyNotFound = errors.New("keys: no such key")

// Store keeps the key set every node signs and verifies with.
type Store interface {
	// CreateFirstKey stores k unless a key for k.Alg already exists, and
	// returns the key stored for that algorithm (k, or the older one), so
	// nodes that start together agree on one key.
	CreateFirstKey(ctx context.Context, k StoredKey) (StoredKey, error)
	// AddKey stores one more key (rotation).
	AddKey(ctx context.Context, k StoredKey) error
	// ListKeys returns every key, oldest first.
	ListKeys(ctx context.Context) ([]StoredKey, error)
	// RetireKey sets kid's RetiresAt to at, unless it is already set to an
	// earlier time, and returns the stored key; ErrKeyNotFound for an
	// unknown kid.
	RetireKey(ctx context.Context, kid string, at time.Time) (StoredKey, error)
	// ClaimKeyRotation answers true to exactly one caller per slot while
	// the claim lasts (ttl), so among nodes racing to perform one scheduled
	// rotation only one adds a key; once ttl has passed the slot may be
	// claimed again (the winner may have died before adding it).
	ClaimKeyRotation(ctx context.Context, slot string, ttl time.Duration) (bool, error)
}
