package keys

import (
	"context"
	"crypto"
	"errors"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Set is the key set of every algorithm the server signs with: the
// access-token algorithm and those ID Tokens may ask for. Each algorithm
// has its own Manager over the one store, so each keeps its own lifecycle
// (publish ahead, retire, scheduled rotation); every Manager already loads
// and publishes the whole stored set, so JWKS and verification by kid span
// all algorithms as long as every Manager is reloaded after any change.
type Set struct {
	primary *Manager // signs access tokens
	byAlg   map[string]*Manager
	algs    []string // primary first, then the others in the order given
}

// NewSet returns a Set signing access tokens with accessAlg and holding a
// key of each of otherAlgs too. Call Init before use.
func NewSet(store Store, secret []byte, accessAlg string, otherAlgs []string, s Settings) (*Set, error) {
	set := &Set{byAlg: map[string]*Manager{}}
	for _, alg := range append([]string{accessAlg}, otherAlgs...) {
		if set.byAlg[alg] != nil {
			continue
		}
		m, err := NewManager(store, secret, alg, s)
		if err != nil {
			return nil, err
		}
		set.byAlg[alg] = m
		set.algs = append(set.algs, alg)
	}
	set.primary = set.byAlg[accessAlg]
	return set, nil
}

// Init makes sure every algorithm has a signing key, then reloads all, so
// each Manager also holds the first keys the others just created.
func (s *Set) Init(ctx context.Context) error {
	for _, alg := range s.algs {
		if err := s.byAlg[alg].Init(ctx); err != nil {
			return err
		}
	}
	return s.Reload(ctx)
}

// Reload re-reads the set for every algorithm.
func (s *Set) Reload(ctx context.Context) error {
	var errs []error
	for _, alg := range s.algs {
		errs = append(errs, s.byAlg[alg].Reload(ctx))
	}
	return errors.Join(errs...)
}

// Algs are the algorithms the set signs with, the access-token one first.
func (s *Set) Algs() []string { return slices.Clone(s.algs) }

// SigningKey is the key that signs access tokens now.
func (s *Set) SigningKey() SigningKey { return s.primary.SigningKey() }

// SigningKeyFor is the key that signs alg now; false when the set holds no
// such algorithm.
func (s *Set) SigningKeyFor(alg string) (SigningKey, bool) {
	m := s.byAlg[alg]
	if m == nil {
		return SigningKey{}, false
	}
	return m.SigningKeyFor(alg)
}

// VerificationKey finds kid among the keys of every algorithm.
func (s *Set) VerificationKey(kid string) (jwt.SigningMethod, crypto.PublicKey, bool) {
	return s.primary.VerificationKey(kid)
}

// Keyfunc is Manager.Keyfunc over every algorithm.
func (s *Set) Keyfunc(t *jwt.Token) (any, error) { return s.primary.Keyfunc(t) }

// JWKS publishes the keys of every algorithm.
func (s *Set) JWKS() []byte { return s.primary.JWKS() }

// SigningKeyCreated is when the access-token signing key was created.
func (s *Set) SigningKeyCreated() time.Time { return s.primary.SigningKeyCreated() }

// Keys lists every key with its state as the Manager of its algorithm
// sees it (only that one knows whether it signs).
func (s *Set) Keys() []KeyInfo {
	list := s.primary.Keys()
	for i, k := range list {
		if m := s.byAlg[k.Alg]; m != nil && m != s.primary {
			if info := m.info(k.ID); info.ID != "" {
				list[i] = info
			}
		}
	}
	return list
}

// List reloads the set and lists it (Keys).
func (s *Set) List(ctx context.Context) ([]KeyInfo, error) {
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s.Keys(), nil
}

// Rotate rotates the key of every algorithm (see Manager.Rotate): they
// are sealed under one secret, so what calls for rotating one calls for
// rotating all. It returns the new access-token key.
func (s *Set) Rotate(ctx context.Context, immediately bool) (KeyInfo, error) {
	var primary KeyInfo
	for _, alg := range s.algs {
		info, err := s.byAlg[alg].Rotate(ctx, immediately)
		if err != nil {
			return KeyInfo{}, err
		}
		if alg == s.algs[0] {
			primary = info
		}
	}
	return primary, s.Reload(ctx)
}

// Retire retires kid through the Manager of its algorithm, which alone
// knows whether kid signs now.
func (s *Set) Retire(ctx context.Context, kid string, immediately bool) (KeyInfo, error) {
	if err := s.Reload(ctx); err != nil {
		return KeyInfo{}, err
	}
	m := s.primary
	for _, k := range s.primary.Keys() {
		if k.ID == kid && s.byAlg[k.Alg] != nil {
			m = s.byAlg[k.Alg]
		}
	}
	info, err := m.Retire(ctx, kid, immediately)
	if err != nil {
		return KeyInfo{}, err
	}
	return info, s.Reload(ctx)
}

// RotateIfDue performs each algorithm's scheduled rotation when due and
// reports the keys added.
func (s *Set) RotateIfDue(ctx context.Context) ([]KeyInfo, error) {
	var added []KeyInfo
	for _, alg := range s.algs {
		info, rotated, err := s.byAlg[alg].RotateIfDue(ctx)
		if err != nil {
			return added, err
		}
		if rotated {
			added = append(added, info)
		}
	}
	if len(added) > 0 {
		return added, s.Reload(ctx)
	}
	return nil, nil
}
