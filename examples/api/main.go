// Command api is a small API that accepts authserver's access tokens
// through package resource: GET /photos needs the scope photos:read, and
// the API publishes its RFC 9728 protected resource metadata.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"authserver/resource"
)

func main() {
	issuer := flag.String("issuer", "http://localhost:8080", "authserver's issuer URL")
	res := flag.String("resource", "http://localhost:8090", "this API's resource identifier: the audience its tokens must name")
	flag.StringVar(res, "audience", *res, "same as -resource")
	addr := flag.String("addr", "localhost:8090", "listen address")
	flag.Parse()

	v, err := resource.New(resource.Config{
		Issuer: *issuer, Audience: *res,
		ResourceName: "Photos example", ScopesSupported: []string{"photos:read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: newHandler(v), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Printf("photos API on %s for resource %s, tokens from %s", *addr, *res, *issuer)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newHandler is the API: the metadata, open to all, and the photos.
func newHandler(v *resource.Validator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /photos", v.Middleware("photos:read")(http.HandlerFunc(photos)))
	return mux
}

type photo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Owner string `json:"owner"`
}

// photos lists the caller's photos; the middleware put its token in the
// request context.
func photos(w http.ResponseWriter, r *http.Request) {
	t, _ := resource.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"photos": []photo{
		{ID: "1", Title: "Harbour at dawn", Owner: t.Subject},
		{ID: "2", Title: "Snow on the pass", Owner: t.Subject},
	}})
}
