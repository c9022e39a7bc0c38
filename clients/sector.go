package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// SectorDocuments fetches the JSON document at a sector_identifier_uri
// (through the server's SSRF-safe fetcher; see app).
type SectorDocuments interface {
	FetchSector(ctx context.Context, uri string) ([]byte, error)
}

// CheckSectorsWith lets clients name a sector_identifier_uri (OpenID
// Connect Core 1.0 §8.1), fetched with d when a client is created or
// updated. Without it such clients are refused.
func (r *Registry) CheckSectorsWith(d SectorDocuments) { r.sectors = d }

// validateSectorURI is the static rule: an https URL without a fragment,
// whose host becomes the client's sector.
func validateSectorURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" || u.User != nil {
		return &ValidationError{"sector_identifier_uri", "must be an https URL without a fragment"}
	}
	return nil
}

// checkSector fetches c's sector_identifier_uri, a JSON array of URIs, and
// requires every redirect URI of c to be in it (Core §8.1): so the
// clients of one sector prove they share it, and no client can claim a
// sector, and the pairwise subjects in it, by naming its host alone.
func (r *Registry) checkSector(ctx context.Context, c *Client) error {
	if c.SectorIdentifierURI == "" {
		return nil
	}
	if r.sectors == nil {
		return &ValidationError{"sector_identifier_uri", "is not supported by this server"}
	}
	body, err := r.sectors.FetchSector(ctx, c.SectorIdentifierURI)
	if err != nil {
		return &ValidationError{"sector_identifier_uri", "could not be fetched: " + err.Error()}
	}
	var listed []string
	if err := json.Unmarshal(body, &listed); err != nil {
		return &ValidationError{"sector_identifier_uri", "is not a JSON array of URIs"}
	}
	for _, u := range c.RedirectURIs {
		if !slices.Contains(listed, u) {
			return &ValidationError{"sector_identifier_uri", fmt.Sprintf("does not list the redirect URI %q", u)}
		}
	}
	return nil
}

// sectorHost is the lower-cased host of a sector_identifier_uri.
func sectorHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
