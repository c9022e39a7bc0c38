package grants

import (
	"context"
	"time"

	"authserver/dpop"
)

// ProofReplay is the DPoP replay cache (dpop.ReplayCache) over s. Its keys
// are prefixed, so a proof's jti never collides with another one-time value
// the store keeps.
func ProofReplay(s ReplayStore) dpop.ReplayCache { return proofReplay{s} }

type proofReplay struct{ s ReplayStore }

func (p proofReplay) Remember(ctx context.Context, key string, expiry time.Time) (bool, error) {
	return p.s.RememberOnce(ctx, "dpop:"+key, expiry)
}

// MemoryReplayStore is a ReplayStore in this process only, over
// dpop.MemoryReplayCache: right for one node; nodes sharing a store need
// the store's own RememberOnce, or a proof refused on one node is accepted
// on the next.
func MemoryReplayStore(maxEntries int) ReplayStore {
	return memoryReplay{dpop.NewMemoryReplayCache(maxEntries)}
}

type memoryReplay struct{ c *dpop.MemoryReplayCache }

func (m memoryReplay) RememberOnce(ctx context.Context, key string, until time.Time) (bool, error) {
	return m.c.Remember(ctx, key, until)
}
