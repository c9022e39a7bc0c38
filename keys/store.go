package keys

import (
	"context"
	"time"
)

// StoredKey is one signing key as the store keeps it: the private key sealed
// (AES-256-GCM under the configured key-encryption secret), the public key in
// the clear.
type StoredKey struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	Sealed    []byte    `json:"sealed"` // sealed PKCS#8 private key
	Public    []byte    `json:"public"` // PKIX public key
	CreatedAt time.Time `json:"created_at"`
}

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
}
