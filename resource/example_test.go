package resource_test

import (
	"fmt"
	"log"
	"net/http"

	"authserver/resource"
)

// An API at https://photos.example.com that takes tokens from
// https://auth.example.com: GET /photos needs photos:read, and the
// metadata tells clients where to get such a token.
func ExampleValidator_Middleware() {
	v, err := resource.New(resource.Config{
		Issuer:          "https://auth.example.com",
		Audience:        "https://photos.example.com",
		ScopesSupported: []string{"photos:read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /photos", v.Middleware("photos:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := resource.FromContext(r.Context())
		fmt.Fprintf(w, "photos of %s\n", t.Subject)
	})))
	fmt.Println(v.MetadataURL())
	// Output: https://photos.example.com/.well-known/oauth-protected-resource
}
