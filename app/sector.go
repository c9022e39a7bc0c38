package app

import (
	"context"

	"authserver/fetcher"
)

// sectorDocuments fetches sector_identifier_uri documents for the client
// registry through the SSRF-safe fetcher; the cache spares the second
// fetch when a registration is checked and then made.
type sectorDocuments struct{ cache *fetcher.Cache }

func (s sectorDocuments) FetchSector(ctx context.Context, uri string) ([]byte, error) {
	r, err := s.cache.Get(ctx, uri, "application/json")
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}
