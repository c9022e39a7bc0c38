package cimd_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/cimd"
	"authserver/cimd/cimdtest"
	"authserver/clients"
	"authserver/fetcher"
)

const redirect = "http://127.0.0.1:33418/callback"

var allowed = []string{"openid", "profile", "mcp:tools"}

func newResolver(t *testing.T, o *cimdtest.Origin, tweak func(*fetcher.Config)) *cimd.Resolver {
	t.Helper()
	cfg := fetcher.Config{AllowLoopback: true, RootCAFile: o.CAFile, Timeout: time.Second, MaxBytes: 4096}
	if tweak != nil {
		tweak(&cfg)
	}
	f, err := fetcher.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cimd.New(fetcher.NewCache(f, fetcher.CacheConfig{MinTTL: 5 * time.Minute}), allowed, cfg.MaxBytes)
}

// wantRefused asserts a *clients.ResolveError that is also
// ErrAuthenticationFailed (every caller's "unknown client") and whose
// reason mentions want.
func wantRefused(t *testing.T, c *clients.Client, err error, want string) {
	t.Helper()
	var re *clients.ResolveError
	if c != nil || !errors.As(err, &re) || !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("got %+v, %v; want a refusal", c, err)
	}
	if !strings.Contains(re.Reason, want) {
		t.Fatalf("reason %q does not mention %q", re.Reason, want)
	}
}

func TestResolveBuildsPublicClient(t *testing.T) {
	o := cimdtest.New(t)
	id := o.Document("/client.json", []string{redirect}, func(d map[string]any) { d["scope"] = "mcp:tools admin" })
	c, err := newResolver(t, o, nil).Resolve(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || !c.Public || c.AuthMethod != clients.AuthNone || c.FirstParty || !c.Unverified() {
		t.Fatalf("client %+v", c)
	}
	if !slices.Equal(c.RedirectURIs, []string{redirect}) || c.Name != "Example MCP Client" {
		t.Fatalf("client %+v", c)
	}
	// "admin" is not the server's to give: dropped, not granted.
	if !slices.Equal(c.Scopes, []string{"mcp:tools"}) {
		t.Fatalf("scopes %v", c.Scopes)
	}
	if !c.AllowsGrant(clients.GrantRefreshToken) || c.AllowsGrant(clients.GrantClientCredentials) {
		t.Fatalf("grants %v", c.GrantTypes)
	}
}

func TestResolveDefaultScopesAndName(t *testing.T) {
	o := cimdtest.New(t)
	id := o.Document("/c", []string{redirect}, func(d map[string]any) { delete(d, "client_name") })
	c, err := newResolver(t, o, nil).Resolve(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, allowed) || c.Name != cimd.Host(id) {
		t.Fatalf("scopes %v name %q", c.Scopes, c.Name)
	}
}

func TestResolveRefusesDocuments(t *testing.T) {
	o := cimdtest.New(t)
	r := newResolver(t, o, nil)
	cases := []struct {
		name, want string
		edit       func(d map[string]any)
	}{
		{"client_id mismatch", "client_id is not the URL", func(d map[string]any) { d["client_id"] = o.URL + "/other" }},
		{"client_id with a trailing slash", "client_id is not the URL", func(d map[string]any) { d["client_id"] = d["client_id"].(string) + "/" }},
		{"client_secret", "client_secret", func(d map[string]any) { d["client_secret"] = "s3cret" }},
		{"client_secret_expires_at", "client_secret", func(d map[string]any) { d["client_secret_expires_at"] = 0 }},
		{"secret method", "shared secret", func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_basic" }},
		{"private_key_jwt without keys", "exactly one of jwks and jwks_uri", func(d map[string]any) { d["token_endpoint_auth_method"] = "private_key_jwt" }},
		{"private_key_jwt with both", "exactly one of jwks and jwks_uri", func(d map[string]any) {
			d["token_endpoint_auth_method"], d["jwks_uri"], d["jwks"] = "private_key_jwt", "https://example.com/jwks", map[string]any{"keys": []any{}}
		}},
		{"private_key_jwt http jwks_uri", "jwks_uri must be an https URL", func(d map[string]any) {
			d["token_endpoint_auth_method"], d["jwks_uri"] = "private_key_jwt", "http://example.com/jwks"
		}},
		{"private_key_jwt bad jwks", "jwks:", func(d map[string]any) {
			d["token_endpoint_auth_method"], d["jwks"] = "private_key_jwt", map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0"}}}
		}},
		{"jwks_uri on a public client", "only for token_endpoint_auth_method private_key_jwt", func(d map[string]any) { d["jwks_uri"] = "https://example.com/jwks" }},
		{"no redirect_uris", "no redirect_uris", func(d map[string]any) { delete(d, "redirect_uris") }},
		{"bad redirect", "redirect URI", func(d map[string]any) { d["redirect_uris"] = []string{"http://evil.example/cb"} }},
		{"client_credentials", "not allowed", func(d map[string]any) { d["grant_types"] = []string{"client_credentials"} }},
		{"password", "not allowed", func(d map[string]any) { d["grant_types"] = []string{"authorization_code", "password"} }},
		{"refresh only", "must include authorization_code", func(d map[string]any) { d["grant_types"] = []string{"refresh_token"} }},
		{"token response", "response_types", func(d map[string]any) { d["response_types"] = []string{"token"} }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := o.Document("/doc"+string(rune('a'+i)), []string{redirect}, tc.edit)
			c, err := r.Resolve(context.Background(), id)
			wantRefused(t, c, err, tc.want)
		})
	}
}

func TestResolveRefusesNonObjects(t *testing.T) {
	o := cimdtest.New(t)
	r := newResolver(t, o, nil)
	for i, body := range []string{`["a"]`, `"x"`, `{"client_id":`, ``, `null`} {
		id := o.Handle("/raw"+string(rune('a'+i)), func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) })
		c, err := r.Resolve(context.Background(), id)
		wantRefused(t, c, err, "JSON")
	}
}

func TestResolveRefusesClientIDURLs(t *testing.T) {
	r := newResolver(t, cimdtest.New(t), nil)
	for id, want := range map[string]string{
		"http://127.0.0.1/client.json":                   "https",
		"https://127.0.0.1":                              "path",
		"https://127.0.0.1/":                             "path",
		"https://u:p@127.0.0.1/c":                        "user information",
		"https://127.0.0.1/c#f":                          "fragment",
		"https://127.0.0.1/a/../c":                       ". or ..",
		"https://127.0.0.1/a/%2E%2E/c":                   ". or ..",
		"https://127.0.0.1/" + strings.Repeat("a", 1100): "too long",
	} {
		c, err := r.Resolve(context.Background(), id)
		wantRefused(t, c, err, want)
	}
}

// The fetcher's refusals each come back as a clear reason.
func TestResolveFetchFailures(t *testing.T) {
	o := cimdtest.New(t)
	r := newResolver(t, o, nil)
	big := o.Handle("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"client_id":"` + strings.Repeat("a", 8000) + `"}`))
	})
	moved := o.Handle("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	slow := o.Handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	missing := o.URL + "/missing"
	for id, want := range map[string]string{big: "larger than 4096 bytes", moved: "redirects", slow: "timed out", missing: "did not answer 200"} {
		c, err := r.Resolve(context.Background(), id)
		wantRefused(t, c, err, want)
	}
}

func TestResolveDeniedHost(t *testing.T) {
	o := cimdtest.New(t)
	id := o.Document("/c", []string{redirect}, nil)
	r := newResolver(t, o, func(c *fetcher.Config) { c.DenyHosts = []string{"127.0.0.1"} })
	c, err := r.Resolve(context.Background(), id)
	wantRefused(t, c, err, "does not accept clients from")
	if o.Hits() != 0 {
		t.Fatalf("a denied host was fetched %d times", o.Hits())
	}
	r = newResolver(t, o, func(c *fetcher.Config) { c.AllowHosts = []string{"clients.example"} })
	c, err = r.Resolve(context.Background(), id)
	wantRefused(t, c, err, "does not accept clients from")
}

// Without the loopback allowance the origin is an internal address.
func TestResolveInternalAddress(t *testing.T) {
	o := cimdtest.New(t)
	id := o.Document("/c", []string{redirect}, nil)
	c, err := newResolver(t, o, func(c *fetcher.Config) { c.AllowLoopback = false }).Resolve(context.Background(), id)
	wantRefused(t, c, err, "not on the public internet")
}

// Many lookups at once fetch the document once; so do later ones within
// the cache lifetime, and a failure is not refetched at once either.
func TestResolveFetchesOnce(t *testing.T) {
	o := cimdtest.New(t)
	id := o.Document("/c", []string{redirect}, nil)
	r := newResolver(t, o, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := r.Resolve(context.Background(), id)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Resolve(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if o.Hits() != 1 {
		t.Fatalf("fetched %d times, want 1", o.Hits())
	}
	missing := o.URL + "/missing"
	for range 5 {
		r.Resolve(context.Background(), missing)
	}
	if o.Hits() != 2 {
		t.Fatalf("a failing document fetched %d times, want 1", o.Hits()-1)
	}
}

// A private_key_jwt document gives a confidential client that has no
// secret, only the keys it published.
func TestResolvePrivateKeyJWTClient(t *testing.T) {
	o := cimdtest.New(t)
	id := o.Document("/pk", []string{redirect}, func(d map[string]any) {
		d["token_endpoint_auth_method"], d["jwks_uri"] = "private_key_jwt", "https://keys.example/jwks.json"
	})
	c, err := newResolver(t, o, nil).Resolve(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Public || c.AuthMethod != clients.AuthPrivateKeyJWT || c.JWKSURI != "https://keys.example/jwks.json" || c.UsesSecret() || !c.Unverified() {
		t.Fatalf("client %+v", c)
	}
}
