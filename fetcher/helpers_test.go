package fetcher_test

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"authserver/fetcher"
)

// origin is an httptest TLS server whose requests are counted, with its
// certificate written as a CA file (it is valid for 127.0.0.1, ::1 and
// example.com).
type origin struct {
	*httptest.Server
	hits   atomic.Int32
	caFile string
}

func newOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		h(w, r)
	}))
	o.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	o.StartTLS()
	t.Cleanup(o.Close)
	o.caFile = filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.Certificate().Raw})
	if err := os.WriteFile(o.caFile, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

// port is the origin's port, for URLs that name another host.
func (o *origin) port() string {
	_, p, _ := net.SplitHostPort(o.Listener.Addr().String())
	return p
}

// at is the origin's URL with host in place of 127.0.0.1.
func (o *origin) at(host, path string) string {
	return "https://" + net.JoinHostPort(host, o.port()) + path
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }
}

// newFetcher trusts o's certificate; cfg says the rest.
func newFetcher(t *testing.T, o *origin, cfg fetcher.Config) *fetcher.Fetcher {
	t.Helper()
	if o != nil {
		cfg.RootCAFile = o.caFile
	}
	f, err := fetcher.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// stubResolver answers the i-th lookup with answers[i], the last one
// from then on, and counts the lookups.
type stubResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	lookups []string
}

func resolveTo(answers ...string) *stubResolver {
	r := &stubResolver{}
	for _, a := range answers {
		var addrs []netip.Addr
		for s := range strings.SplitSeq(a, ",") {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		r.answers = append(r.answers, addrs)
	}
	return r
}

func (r *stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := min(len(r.lookups), len(r.answers)-1)
	r.lookups = append(r.lookups, host)
	return r.answers[i], nil
}

func (r *stubResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lookups)
}
