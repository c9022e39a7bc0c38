package grants

import (
	"context"
	"errors"

	"github.com/golang-jwt/jwt/v5"

	"authserver/clients"
	"authserver/fetcher"
)

// KeysFetcher fetches a client's jwks_uri (*fetcher.Cache): Get may answer
// from the cache, Refresh fetches again (rate-limited by the cache) when a
// client seems to have rotated its keys.
type KeysFetcher interface {
	Get(ctx context.Context, rawURL, accept string) (*fetcher.Response, error)
	Refresh(ctx context.Context, rawURL, accept string) (*fetcher.Response, error)
}

const jwksAccept = "application/jwk-set+json, application/json"

// clientKeys finds the keys a client assertion may be verified with.
type clientKeys struct{ fetch KeysFetcher }

// keysError is a failure to find the client's keys, as distinct from a
// signature that does not verify: desc is for the client, the error for
// the audit record.
type keysError struct {
	desc string
	err  error
}

func (e *keysError) Error() string {
	if e.err == nil {
		return e.desc
	}
	return e.desc + ": " + e.err.Error()
}

var errNoMatchingKey = &keysError{desc: "no key of the client matches the client assertion's kid and alg"}

// verify runs check with the client's keys that fit kid and alg. The keys
// of a jwks_uri are fetched through the cache, and once more when none fits
// or, without a kid to go by, none verifies: the client may have rotated.
func (k clientKeys) verify(ctx context.Context, c *clients.Client, kid, alg string, check func(jwt.VerificationKeySet) error) error {
	if c.JWKSURI == "" {
		keys, err := clients.ParsePublicJWKS(c.JWKS)
		if err != nil {
			return &keysError{"the client's registered keys cannot be read", err}
		}
		return checkWith(keys, kid, alg, check)
	}
	if k.fetch == nil {
		return &keysError{desc: "jwks_uri is not available on this server"}
	}
	keys, err := fetchedKeys(k.fetch.Get(ctx, c.JWKSURI, jwksAccept))
	if err == nil {
		err = checkWith(keys, kid, alg, check)
	}
	var ke *keysError
	if err == nil || (kid != "" && !errors.As(err, &ke)) {
		return err // a kid the set holds whose signature fails: no refetch
	}
	if keys, err = fetchedKeys(k.fetch.Refresh(ctx, c.JWKSURI, jwksAccept)); err != nil {
		return err
	}
	return checkWith(keys, kid, alg, check)
}

// fetchedKeys reads a fetched JWK Set.
func fetchedKeys(resp *fetcher.Response, err error) ([]clients.PublicKey, error) {
	if err != nil {
		return nil, &keysError{"the client's jwks_uri could not be fetched", err}
	}
	keys, err := clients.ParsePublicJWKS(resp.Body)
	if err != nil {
		return nil, &keysError{"the client's jwks_uri does not hold a usable public JWK Set", err}
	}
	return keys, nil
}

// checkWith runs check with the keys that fit kid (when given) and alg.
func checkWith(keys []clients.PublicKey, kid, alg string, check func(jwt.VerificationKeySet) error) error {
	var set jwt.VerificationKeySet
	for _, key := range keys {
		if (kid == "" || key.ID == kid) && key.Fits(alg) {
			set.Keys = append(set.Keys, key.Key)
		}
	}
	if len(set.Keys) == 0 {
		return errNoMatchingKey
	}
	return check(set)
}
