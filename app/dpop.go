package app

import (
	"crypto/hkdf"
	"crypto/sha256"
	"time"

	"authserver/config"
	"authserver/dpop"
	"authserver/grants"
)

// dpopNonceWindow is how often the DPoP nonce changes; a nonce stays good
// for up to two windows.
const dpopNonceWindow = 2 * time.Minute

// newDPoPVerifier is the node's DPoP verifier for /token and /userinfo.
// Replay: one-time jti in the store (RememberOnce), so a proof used on one
// node is refused on every other. Nonces, when required, are keyed by the
// key-encryption secret through HKDF, so every node accepts every node's
// nonce.
func newDPoPVerifier(cfg *config.Config, secret []byte, replay grants.ReplayStore) (*dpop.Verifier, error) {
	v := &dpop.Verifier{Replay: grants.ProofReplay(replay)}
	if cfg.DPoP.RequireNonce {
		key, err := hkdf.Key(sha256.New, secret, nil, "authserver dpop nonce v1", 32)
		if err != nil {
			return nil, err
		}
		v.Nonces = dpop.NewNonces(key, dpopNonceWindow)
	}
	return v, nil
}
