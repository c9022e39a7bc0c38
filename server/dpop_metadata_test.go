package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"authserver/server"
)

// RFC 9449 §5.1: the algorithms are advertised exactly when DPoP is
// offered (OpenID discovery copies the RFC 8414 document: see
// TestOpenIDConfiguration, and app's TestDPoPEmbedded).
func TestMetadataDPoPAlgorithms(t *testing.T) {
	get := func(algs []string, path string) map[string]any {
		rec := httptest.NewRecorder()
		server.NewPublic(server.Options{Issuer: "https://x.test", Token: http.NotFoundHandler(), UserInfo: http.NotFoundHandler(), JWKS: func() []byte { return nil }, DPoPAlgs: algs}).
			ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return doc
	}
	for _, path := range []string{"/.well-known/oauth-authorization-server"} {
		got, _ := json.Marshal(get([]string{"ES256", "EdDSA"}, path)["dpop_signing_alg_values_supported"])
		if string(got) != `["ES256","EdDSA"]` {
			t.Errorf("%s: dpop_signing_alg_values_supported = %s", path, got)
		}
		if v, ok := get(nil, path)["dpop_signing_alg_values_supported"]; ok {
			t.Errorf("%s without DPoP advertises %v", path, v)
		}
	}
}
