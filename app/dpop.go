package app

import (
	"crypto/hkdf"
	"crypto/sha256"
	"time"

	"authserver/config"
	"authserver/dpop"
	"authserver/grants"
)

// DPoP proofs a node remembers at once: a proof is remembered for its
// 65 s window, so this is about 8,000 DPoP requests a second before the
// node answers 503 rather than forget one.
const dpopReplayEntries = 1 << 19

// dpopNonceWindow is how often the DPoP nonce changes; a nonce stays good
// for up to two windows.
const dpopNonceWindow = 2 * time.Minute

// newDPoPVerifier is the node's DPoP verifier for /token and /userinfo.
// Replay: one-time jti in this process (grants.MemoryReplayStore) until the
// store's RememberOnce is on main; nodes behind one load balancer then
// each keep their own list. Nonces, when required, are keyed by the
// key-encryption secret through HKDF, so every node accepts every node's
// nonce.
func newDPoPVerifier(cfg *config.Config, secret []byte) (*dpop.Verifier, error) {
	v := &dpop.Verifier{Replay: grants.ProofReplay(grants.MemoryReplayStore(dpopReplayEntries))}
	if cfg.DPoP.RequireNonce {
		key, err := hkdf.Key(sha256.New, secret, nil, "authserver dpop nonce v1", 32)
		if err != nil {
			return nil, err
		}
		v.Nonces = dpop.NewNonces(key, dpopNonceWindow)
	}
	return v, nil
}
