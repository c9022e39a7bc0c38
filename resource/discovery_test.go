package resource_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"authserver/resource"
)

// Without JWKSURL the keys are at the jwks_uri of the issuer's RFC 8414
// metadata, used only when it names the same issuer; else at /jwks.
func TestJWKSDiscovery(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	var mdIssuer atomic.Value
	var jwksHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server/tenant": // RFC 8414 §3.1
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": mdIssuer.Load().(string), "jwks_uri": as.srv.URL})
		case "/tenant/jwks":
			jwksHits.Add(1)
			as.srv.Config.Handler.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuer := srv.URL + "/tenant"
	c := claims(newClock().Now())
	c["iss"] = issuer
	tok := mint(t, k, c, nil)

	mdIssuer.Store(issuer)
	v := validator(t, resource.Config{Issuer: issuer, Audience: photosAPI})
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if as.hits.Load() != 1 || jwksHits.Load() != 0 {
		t.Fatalf("jwks_uri fetched %d times, /jwks %d", as.hits.Load(), jwksHits.Load())
	}

	// Metadata of another issuer is ignored: /jwks it is.
	mdIssuer.Store("https://evil.example")
	v = validator(t, resource.Config{Issuer: issuer, Audience: photosAPI})
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if jwksHits.Load() != 1 {
		t.Fatalf("/jwks fetched %d times", jwksHits.Load())
	}
}
