package clients_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"authserver/clients"
)

// sectorDocs serves fixed sector documents by URI and counts fetches.
type sectorDocs struct {
	docs    map[string]string
	fetches int
}

func (s *sectorDocs) FetchSector(_ context.Context, uri string) ([]byte, error) {
	s.fetches++
	d, ok := s.docs[uri]
	if !ok {
		return nil, errors.New("404")
	}
	return []byte(d), nil
}

// A pairwise client's sector_identifier_uri must list every redirect URI
// (Core §8.1); then its redirect URIs may span hosts and its sector is the
// document's host, so two clients of one sector share pairwise subjects.
func TestSectorIdentifierURI(t *testing.T) {
	r, _ := newRegistry(t)
	docs := &sectorDocs{docs: map[string]string{
		"https://sector.example/uris.json": `["https://a.example/cb", "https://b.example/cb"]`,
		"https://sector.example/bad.json":  `{"redirect_uris": []}`,
	}}
	pairwise := func(sector string, uris ...string) clients.Registration {
		return clients.Registration{Name: "app", GrantTypes: []string{"authorization_code"}, Scopes: []string{"read"},
			RedirectURIs: uris, SubjectType: clients.SubjectPairwise, SectorIdentifierURI: sector}
	}
	ctx := context.Background()
	if _, _, err := r.Create(ctx, pairwise("https://sector.example/uris.json", "https://a.example/cb")); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("without a fetcher: %v, want refused", err)
	}
	r.CheckSectorsWith(docs)
	a, _, err := r.Create(ctx, pairwise("https://sector.example/uris.json", "https://a.example/cb", "https://b.example/cb"))
	if err != nil {
		t.Fatalf("listed redirect URIs on two hosts refused: %v", err)
	}
	b, _, err := r.Create(ctx, pairwise("https://sector.example/uris.json", "https://b.example/cb"))
	if err != nil {
		t.Fatal(err)
	}
	if a.SectorIdentifier() != "sector.example" || b.SectorIdentifier() != a.SectorIdentifier() {
		t.Fatalf("sectors %q and %q, want sector.example for both", a.SectorIdentifier(), b.SectorIdentifier())
	}
	for name, reg := range map[string]clients.Registration{
		"an unlisted redirect URI": pairwise("https://sector.example/uris.json", "https://a.example/cb", "https://evil.example/cb"),
		"not a JSON array":         pairwise("https://sector.example/bad.json", "https://a.example/cb"),
		"fetch fails":              pairwise("https://sector.example/missing.json", "https://a.example/cb"),
		"http":                     pairwise("http://sector.example/uris.json", "https://a.example/cb"),
		"fragment":                 pairwise("https://sector.example/uris.json#x", "https://a.example/cb"),
		"a public client":          {Name: "app", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://a.example/cb"}, SectorIdentifierURI: "https://sector.example/uris.json"},
	} {
		_, _, err := r.Create(ctx, reg)
		var ve *clients.ValidationError
		if !errors.As(err, &ve) || ve.Field != "sector_identifier_uri" {
			t.Errorf("%s: %v, want a sector_identifier_uri ValidationError", name, err)
		}
	}
	// Refused before anything is stored: a registration check fetches too.
	before := docs.fetches
	if err := r.CheckRegistration(ctx, pairwise("https://sector.example/uris.json", "https://evil.example/cb")); err == nil {
		t.Fatal("CheckRegistration accepted an unlisted redirect URI")
	}
	if docs.fetches != before+1 {
		t.Fatalf("CheckRegistration fetched %d times, want 1", docs.fetches-before)
	}
}
