package grants_test

import (
	"errors"
	"testing"
	"time"

	"authserver/grants"
)

// An ID Token is a good hint even long expired; an access token, another
// issuer's token or a tampered one is not.
func TestParseIDTokenHint(t *testing.T) {
	h := newOIDCHarness(t)
	expired, err := h.issuer.MintIDToken(grants.IDToken{
		ClientID: "client-1", UserID: "user-1", Alg: "EdDSA",
		IssuedAt: time.Now().Add(-48 * time.Hour), TTL: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.issuer.ParseIDTokenHint(expired)
	if err != nil || got.Subject != "user-1" || got.ClientID != "client-1" {
		t.Fatalf("expired ID Token as hint: %+v, %v", got, err)
	}

	access, err := h.issuer.Mint(grants.Access{ClientID: "client-1", UserID: "user-1", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := grants.NewIssuer("https://other.test", nil, h.keys)
	foreign, err := elsewhere.MintIDToken(grants.IDToken{ClientID: "client-1", UserID: "user-1", Alg: "ES256", IssuedAt: time.Now(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{
		"access token":   access,
		"other issuer":   foreign,
		"tampered":       expired[:len(expired)-4] + "AAAA",
		"not a JWT":      "hello",
		"unsigned (alg)": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0Iiwic3ViIjoidSIsImF1ZCI6ImMifQ.",
	} {
		if _, err := h.issuer.ParseIDTokenHint(raw); !errors.Is(err, grants.ErrInvalidHint) {
			t.Errorf("%s: %v, want ErrInvalidHint", name, err)
		}
	}
}
