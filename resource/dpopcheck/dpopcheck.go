// Package dpopcheck is the resource.DPoPVerifier of package dpop: an API
// that accepts DPoP-bound access tokens (RFC 9449 §7) sets
//
//	check, err := dpopcheck.New(dpopcheck.Config{BaseURL: "https://api.example.com"})
//	v, err := resource.New(resource.Config{..., DPoP: check, DPoPSigningAlgs: check.Algorithms()})
//
// and every request with a bound token must then carry a fresh, one-time
// proof, by the token's key, of its method, URL and token.
package dpopcheck

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"authserver/dpop"
	"authserver/resource"
)

// Config describes the checks.
type Config struct {
	// BaseURL is the API as clients reach it: scheme, host and any path
	// prefix a proxy strips. A proof's htu must be BaseURL followed by the
	// request's path. Required: the Host header is the client's to choose,
	// so it cannot say what URL was signed.
	BaseURL string
	// Replay remembers the proofs used; nil keeps them in this process
	// (dpop.MemoryReplayCache of MaxProofs), which is right for one
	// instance only: behind a load balancer, share one.
	Replay dpop.ReplayCache
	// MaxProofs bounds the in-memory replay cache; 0 means 100,000.
	MaxProofs int
	// Nonces, when set, makes every proof carry a server nonce (RFC 9449
	// §9): a proof without the current one is answered use_dpop_nonce
	// with a DPoP-Nonce header.
	Nonces *dpop.Nonces
	// Algorithms, MaxAge and Now are the dpop.Verifier's (empty or zero:
	// its defaults).
	Algorithms []string
	MaxAge     time.Duration
	Now        func() time.Time
}

const defaultMaxProofs = 100_000

// Checker checks proofs; safe for concurrent use.
type Checker struct {
	v    *dpop.Verifier
	base string
}

// New returns a Checker for cfg.
func New(cfg Config) (*Checker, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dpopcheck: BaseURL %q is not an absolute http(s) URL without query", cfg.BaseURL)
	}
	replay := cfg.Replay
	if replay == nil {
		n := cfg.MaxProofs
		if n <= 0 {
			n = defaultMaxProofs
		}
		m := dpop.NewMemoryReplayCache(n)
		m.Now = cfg.Now // the cache must expire entries on the verifier's clock
		replay = m
	}
	return &Checker{
		v: &dpop.Verifier{
			Algorithms: cfg.Algorithms, MaxAge: cfg.MaxAge, Replay: replay, Nonces: cfg.Nonces, Now: cfg.Now,
		},
		base: strings.TrimSuffix(cfg.BaseURL, "/"),
	}, nil
}

// Algorithms are the proof algorithms accepted, for
// resource.Config.DPoPSigningAlgs.
func (c *Checker) Algorithms() []string {
	if len(c.v.Algorithms) > 0 {
		return c.v.Algorithms
	}
	return dpop.DefaultAlgorithms
}

// VerifyProof implements resource.DPoPVerifier.
func (c *Checker) VerifyProof(r *http.Request, accessToken, jkt string) error {
	value, err := dpop.HeaderValue(r.Header)
	if err == nil {
		_, err = c.v.Verify(r.Context(), dpop.Request{
			Proof: value, Method: r.Method, URL: c.base + r.URL.EscapedPath(),
			AccessToken: accessToken, ExpectedJKT: jkt,
		})
	}
	var de *dpop.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &de):
		// The replay cache failed or is full: not the client's fault, and
		// not a reason to let the proof through.
		return &resource.Error{Status: http.StatusServiceUnavailable, Description: "cannot check the DPoP proof now"}
	case errors.Is(err, dpop.ErrUseNonce):
		return &resource.Error{Status: http.StatusUnauthorized, Code: resource.CodeUseDPoPNonce, Description: de.Description, DPoPNonce: c.nonce()}
	case errors.Is(err, dpop.ErrKeyMismatch):
		// The token is good; whoever sent it does not hold its key.
		return &resource.Error{Status: http.StatusUnauthorized, Code: resource.CodeInvalidToken, Description: de.Description}
	}
	return err // invalid_dpop_proof, with the description
}

func (c *Checker) nonce() string {
	now := time.Now()
	if c.v.Now != nil {
		now = c.v.Now()
	}
	return c.v.Nonces.Current(now)
}
