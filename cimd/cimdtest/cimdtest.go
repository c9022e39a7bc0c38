// Package cimdtest serves client ID metadata documents over TLS for tests:
// an httptest server whose certificate is written as a CA file the
// fetcher can trust (fetch.ca_file with fetch.allow_loopback).
package cimdtest

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Origin is a TLS server of documents; its handler per path is swappable.
type Origin struct {
	*httptest.Server
	// CAFile trusts the server's certificate (valid for 127.0.0.1).
	CAFile string
	hits   atomic.Int64

	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
}

// New starts an Origin, closed when the test ends.
func New(t testing.TB) *Origin {
	t.Helper()
	o := &Origin{handlers: map[string]http.HandlerFunc{}}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(o.serve))
	o.Config.ErrorLog = log.New(io.Discard, "", 0)
	o.StartTLS()
	t.Cleanup(o.Close)
	o.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.Certificate().Raw})
	if err := os.WriteFile(o.CAFile, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *Origin) serve(w http.ResponseWriter, r *http.Request) {
	o.hits.Add(1)
	o.mu.Lock()
	h := o.handlers[r.URL.Path]
	o.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// Hits counts the requests served so far.
func (o *Origin) Hits() int64 { return o.hits.Load() }

// Handle serves h at path and returns the path's URL.
func (o *Origin) Handle(path string, h http.HandlerFunc) string {
	o.mu.Lock()
	o.handlers[path] = h
	o.mu.Unlock()
	return o.URL + path
}

// Document serves, at path, a public client's document naming its own URL
// as client_id and redirectURIs, changed by edit; it returns the URL.
func (o *Origin) Document(path string, redirectURIs []string, edit func(doc map[string]any)) string {
	id := o.URL + path
	doc := map[string]any{
		"client_id":                  id,
		"client_name":                "Example MCP Client",
		"redirect_uris":              redirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	}
	if edit != nil {
		edit(doc)
	}
	body, _ := json.Marshal(doc)
	return o.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(body)
	})
}
