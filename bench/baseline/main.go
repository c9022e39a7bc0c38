// Command baseline is the go-oauth2 v4.5.4 server the benchmark measures
// side by side with authserver: wired as the library's README shows
// (manage.NewDefaultManager, an in-memory token store, a client store,
// server.NewDefaultServer), with its JWT access generator on the same
// algorithm as ours, the password handler of its example server, and
// refresh tokens as the default manager issues and rotates them.
//
// It is a module of its own so that go-oauth2's store package, and the
// buntdb it brings, stay out of authserver's dependencies.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/generates"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
	"github.com/golang-jwt/jwt/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9096", "listen address")
	alg := flag.String("alg", "ES256", "JWT algorithm: ES256, EdDSA or RS256")
	clientID := flag.String("client-id", "000000", "the one client's id")
	clientSecret := flag.String("client-secret", "999999", "the one client's secret")
	domain := flag.String("domain", "http://127.0.0.1", "the client's redirect domain")
	username := flag.String("username", "test", "the one user's name")
	password := flag.String("password", "test", "the one user's password")
	flag.Parse()

	method, keyPEM, pub, err := signingKey(*alg)
	if err != nil {
		log.Fatal(err)
	}

	manager := manage.NewDefaultManager()
	manager.MustTokenStorage(store.NewMemoryTokenStore())
	manager.MapAccessGenerate(generates.NewJWTAccessGenerate("", keyPEM, method))

	clientStore := store.NewClientStore()
	clientStore.Set(*clientID, &models.Client{
		ID:     *clientID,
		Secret: *clientSecret,
		Domain: *domain,
	})
	manager.MapClientStorage(clientStore)

	srv := server.NewDefaultServer(manager)
	srv.SetAllowGetAccessRequest(true)
	// The README switches to server.ClientFormHandler; the default (Basic)
	// is kept so both servers get byte-identical requests.

	srv.SetPasswordAuthorizationHandler(func(ctx context.Context, clientID, user, pass string) (string, error) {
		if user == *username && pass == *password {
			return "user-" + user, nil
		}
		return "", errors.ErrAccessDenied
	})
	// No sign-in page: every authorization request is the one user's.
	srv.UserAuthorizationHandler = func(w http.ResponseWriter, r *http.Request) (string, error) {
		return "user-" + *username, nil
	}
	srv.SetInternalErrorHandler(func(err error) (re *errors.Response) {
		log.Println("Internal Error:", err.Error())
		return
	})
	srv.SetResponseErrorHandler(func(re *errors.Response) {
		log.Println("Response Error:", re.Error.Error())
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleAuthorizeRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		srv.HandleTokenRequest(w, r)
	})
	mux.HandleFunc("/introspect", func(w http.ResponseWriter, r *http.Request) {
		introspect(srv, method, pub, w, r)
	})
	hs := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.ListenAndServe())
}

// introspect answers RFC 7662 requests, which go-oauth2 has no endpoint
// for, with what it does offer: the client authenticated as the token
// endpoint does it, the JWT parsed and verified as the README's "Parse and
// verify jwt access token" shows, then the token looked up in the token
// store (Manager.LoadAccessToken, what srv.ValidationBearerToken does), the
// check that sees a revoked token. Ours does the same work: a signature
// and one deny-list lookup.
func introspect(srv *server.Server, method jwt.SigningMethod, pub any, w http.ResponseWriter, r *http.Request) {
	id, secret, err := srv.ClientInfoHandler(r)
	if err != nil {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	ctx := r.Context()
	cli, err := srv.Manager.GetClient(ctx, id)
	if err != nil || cli.GetSecret() != secret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	access := r.FormValue("token")
	token, err := jwt.ParseWithClaims(access, &generates.JWTAccessClaims{}, func(t *jwt.Token) (interface{}, error) {
		if t.Method.Alg() != method.Alg() {
			return nil, fmt.Errorf("parse error")
		}
		return pub, nil
	})
	if err != nil {
		w.Write([]byte(`{"active":false}`))
		return
	}
	claims, ok := token.Claims.(*generates.JWTAccessClaims)
	if !ok || !token.Valid {
		w.Write([]byte(`{"active":false}`))
		return
	}
	ti, err := srv.Manager.LoadAccessToken(ctx, access)
	if err != nil {
		w.Write([]byte(`{"active":false}`))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"active":    true,
		"client_id": ti.GetClientID(),
		"sub":       claims.Subject,
		"scope":     ti.GetScope(),
		"exp":       claims.ExpiresAt.Unix(),
	})
}

// signingKey makes a fresh key in the PEM form NewJWTAccessGenerate takes,
// and its public half for verifying.
func signingKey(alg string) (jwt.SigningMethod, []byte, any, error) {
	var (
		method jwt.SigningMethod
		key    crypto.Signer
		err    error
	)
	switch alg {
	case "ES256":
		method = jwt.SigningMethodES256
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		method = jwt.SigningMethodEdDSA
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "RS256":
		method = jwt.SigningMethodRS256
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, nil, nil, fmt.Errorf("unsupported --alg %q (ES256, EdDSA, RS256)", alg)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return method, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), key.Public(), nil
}
