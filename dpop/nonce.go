package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Nonces are server-provided DPoP nonces (RFC 9449 §8, §9) that need no
// storage: a nonce is the HMAC of the current time window, so every node
// sharing the secret hands out and accepts the same nonces. A nonce stays
// valid for the rest of its window and the whole next one, so a client
// that just received one is not refused at a window's edge.
type Nonces struct {
	secret []byte
	window time.Duration
}

// minNonceSecret is the shortest secret that keeps nonces unguessable.
const minNonceSecret = 32

// nonceLabel keeps these MACs apart from anything else the secret keys.
const nonceLabel = "authserver dpop nonce v1"

// NewNonces returns nonces keyed by secret (at least 32 random bytes)
// that change every window (a minute or a few).
func NewNonces(secret []byte, window time.Duration) *Nonces {
	if window <= 0 {
		panic("dpop: nonce window must be positive")
	}
	if len(secret) < minNonceSecret {
		panic("dpop: nonce secret is shorter than 32 bytes")
	}
	return &Nonces{secret: append([]byte(nil), secret...), window: window}
}

// Current is the nonce to send in a DPoP-Nonce header at now.
func (n *Nonces) Current(now time.Time) string {
	return b64.encode(n.mac(n.windowAt(now)))
}

// Valid reports whether nonce is the nonce of now's window or the one
// before.
func (n *Nonces) Valid(nonce string, now time.Time) bool {
	got, err := b64.decode(nonce)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	w := n.windowAt(now)
	return hmac.Equal(got, n.mac(w)) || hmac.Equal(got, n.mac(w-1))
}

func (n *Nonces) windowAt(now time.Time) int64 {
	return now.UnixNano() / int64(n.window)
}

func (n *Nonces) mac(window int64) []byte {
	h := hmac.New(sha256.New, n.secret)
	h.Write([]byte(nonceLabel))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(window)))
	return h.Sum(nil)
}
