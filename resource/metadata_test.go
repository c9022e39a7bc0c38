package resource_test

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"authserver/resource"
)

func TestMetadataHandler(t *testing.T) {
	v := validator(t, resource.Config{Issuer: stubIssuer, Audience: photosAPI, DPoP: &hook{},
		ResourceName: "Photos", ScopesSupported: []string{"photos:read", "photos:write"}, Documentation: "https://photos.example.test/docs"})
	rec := httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", v.MetadataPath(), nil))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	want := map[string]any{
		"resource": photosAPI, "authorization_servers": []any{stubIssuer}, "bearer_methods_supported": []any{"header"},
		"scopes_supported": []any{"photos:read", "photos:write"}, "resource_name": "Photos",
		"resource_documentation":            "https://photos.example.test/docs",
		"dpop_signing_alg_values_supported": []any{"ES256", "RS256", "EdDSA"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metadata %v\nwant %v", got, want)
	}

	rec = httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("POST", v.MetadataPath(), nil))
	if rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}

	// Without DPoP nor optional fields, only the required ones.
	plain := validator(t, resource.Config{Issuer: stubIssuer, Audience: photosAPI})
	if b, _ := json.Marshal(plain.Metadata()); string(b) != `{"resource":"https://photos.example.test","authorization_servers":["https://auth.example.test"],"bearer_methods_supported":["header"]}` {
		t.Errorf("metadata %s", b)
	}
}

// RFC 9728 §3.1: the well-known segment goes before the resource's path,
// without a terminating slash.
func TestMetadataPath(t *testing.T) {
	for aud, want := range map[string]string{
		"https://photos.example.test":          "/.well-known/oauth-protected-resource",
		"https://photos.example.test/":         "/.well-known/oauth-protected-resource",
		"https://api.example.test/photos":      "/.well-known/oauth-protected-resource/photos",
		"https://api.example.test/photos/v1/":  "/.well-known/oauth-protected-resource/photos/v1",
		"http://127.0.0.1:8081/a%20b":          "/.well-known/oauth-protected-resource/a%20b",
		"https://api.example.test/r?tenant=42": "/.well-known/oauth-protected-resource/r?tenant=42",
	} {
		v := validator(t, resource.Config{Issuer: stubIssuer, Audience: aud})
		if got := v.MetadataPath(); got != want {
			t.Errorf("%s: path %s, want %s", aud, got, want)
		}
	}
	v := validator(t, resource.Config{Issuer: stubIssuer, Audience: "https://api.example.test:8443/photos"})
	if got := v.MetadataURL(); got != "https://api.example.test:8443/.well-known/oauth-protected-resource/photos" {
		t.Errorf("URL %s", got)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]resource.Config{
		"no issuer":       {Audience: photosAPI},
		"no audience":     {Issuer: stubIssuer},
		"audience no URL": {Issuer: stubIssuer, Audience: "photos"},
		"fragment":        {Issuer: stubIssuer, Audience: photosAPI + "#x"},
		"other scheme":    {Issuer: stubIssuer, Audience: "urn:photos"},
		"negative leeway": {Issuer: stubIssuer, Audience: photosAPI, Leeway: -1},
		"bad scope":       {Issuer: stubIssuer, Audience: photosAPI, RequiredScopes: []string{"a b"}},
	} {
		if _, err := resource.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
