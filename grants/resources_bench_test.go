package grants_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
	"authserver/keys"
	"authserver/ratelimit"
	"authserver/resources"
	"authserver/store/embedded"
	"authserver/tokens"
	"authserver/users"
)

// BenchmarkTokenResource is one client_credentials request through the
// token endpoint, in process on the embedded store, without and with a
// resource parameter: the registry answers from memory, so a resource
// costs a lookup, not a store read.
func BenchmarkTokenResource(b *testing.B) {
	st, err := embedded.Open(filepath.Join(b.TempDir(), "authserver.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	km, err := keys.NewManager(st, []byte("bench key encryption secret, 32+ bytes"), "ES256", keys.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cfg := testConfig()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := clients.NewCachedStore(st, nil, time.Minute, log)
	cl := clients.NewRegistry(reg, testScopes)
	us := users.NewService(st, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1})
	rs := resources.NewRegistry(st, nil, time.Minute, log)
	if _, err := rs.Create(ctx, resources.Resource{ID: photosAPI, Name: "Photos", Scopes: []string{"read"}}); err != nil {
		b.Fatal(err)
	}
	e := grants.NewEndpoint(cfg, grants.Deps{
		Clients: cl, Users: us, Families: st, Codes: st, Deny: st, Limiter: ratelimit.New(st),
		Issuer: grants.NewIssuer("https://issuer.test", []string{"https://api.test"}, km), Resources: rs,
		Revoker: tokens.NewRevoker(st, us, cl, cfg.CodeTTL, cfg.AccessTTL, log), Chain: testChain, Audit: log,
	})
	c, secret, err := cl.Create(ctx, clients.Registration{Name: "bench", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}})
	if err != nil {
		b.Fatal(err)
	}
	for name, form := range map[string]url.Values{
		"none":     ccForm(),
		"resource": withResources(ccForm(), photosAPI),
	} {
		body := form.Encode()
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, secret)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
