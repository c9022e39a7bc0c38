package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"authserver/config"
)

// A pairwise client's sector_identifier_uri is fetched through the node's
// fetcher (here trusting the test server's CA on loopback): listed
// redirect URIs on two hosts register, and two clients of one sector see
// one pairwise sub; an unlisted redirect URI is refused.
func TestSectorIdentifierURI(t *testing.T) {
	var fetches atomic.Int32
	sector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`["https://photos.example/cb", "https://print.example/cb"]`))
	}))
	defer sector.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sector.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, func(c *config.Config) {
		oidcScopes(c)
		c.Fetch.AllowLoopback, c.Fetch.CAFile = true, caFile
	})
	reg := func(uris ...string) (int, map[string]any) {
		b, _ := json.Marshal(map[string]any{
			"name": "app", "grant_types": []string{"authorization_code"}, "scopes": []string{"openid"},
			"redirect_uris": uris, "subject_type": "pairwise", "sector_identifier_uri": sector.URL + "/sector.json",
		})
		req, _ := http.NewRequest(http.MethodPost, n.adminURL+"/admin/clients", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, a := reg("https://photos.example/cb", "https://print.example/cb")
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("listed redirect URIs on two hosts: %d %v", status, a)
	}
	status, b := reg("https://print.example/cb")
	if status >= 300 {
		t.Fatalf("second client of the sector: %d %v", status, b)
	}
	if status, out := reg("https://photos.example/cb", "https://evil.example/cb"); status != http.StatusBadRequest {
		t.Fatalf("unlisted redirect URI: %d %v, want 400", status, out)
	}
	if fetches.Load() == 0 {
		t.Fatal("the sector document was never fetched")
	}

	ctx := context.Background()
	ca, err := n.app.Clients.Lookup(ctx, a["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := n.app.Clients.Lookup(ctx, b["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	subA, subB := n.app.Issuer.Subject(ca, "user-1"), n.app.Issuer.Subject(cb, "user-1")
	if subA != subB || subA == "user-1" {
		t.Fatalf("pairwise subs %q and %q: want one sub per sector, not the user ID", subA, subB)
	}
}
