package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"authserver/clients"
)

// `clients create --auth-method private_key_jwt` takes the client's keys
// from --jwks-file or --jwks-uri, and prints no secret: there is none.
func TestClientsCreatePrivateKeyJWT(t *testing.T) {
	s := newAdminServer(t)
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	pub := map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	write := func(name string, keys ...map[string]any) string {
		p := filepath.Join(t.TempDir(), name)
		b, _ := json.Marshal(map[string]any{"keys": keys})
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	r := run1(runClients, "", withConn(s, "create", "--name", "m2m", "--grant-types", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-file", write("keys.json", pub))...).ok(t)
	m := r.json(t)
	if _, ok := m["client_secret"]; ok || m["token_endpoint_auth_method"] != "private_key_jwt" {
		t.Fatalf("private_key_jwt client: %s", r.stdout)
	}
	c, err := s.clients.Get(ctx, m["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := clients.ParsePublicJWKS(c.JWKS); err != nil || len(keys) != 1 || keys[0].ID != "k1" || len(c.SecretHash) != 0 {
		t.Fatalf("stored client: jwks %s (%v), secret hash %x", c.JWKS, err, c.SecretHash)
	}

	r = run1(runClients, "", withConn(s, "create", "--name", "remote", "--grant-types", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-uri", "https://keys.example.com/jwks.json")...).ok(t)
	if m := r.json(t); m["jwks_uri"] != "https://keys.example.com/jwks.json" || m["client_secret"] != nil {
		t.Fatalf("jwks_uri client: %s", r.stdout)
	}

	withPrivate := map[string]any{"d": b64(key.D.Bytes())}
	for k, v := range pub {
		withPrivate[k] = v
	}
	cc := []string{"--name", "x", "--grant-types", "client_credentials", "--auth-method", "private_key_jwt"}
	run1(runClients, "", withConn(s, "create", append(cc, "--jwks-file", write("private.json", withPrivate))...)...).
		failed(t, 1, `authserver: create client: jwks: key 0 holds private or symmetric key material ("d"): register public keys only`)
	run1(runClients, "", withConn(s, "create", append(cc, "--jwks-file", write("k.json", pub), "--jwks-uri", "https://keys.example.com/j")...)...).
		failed(t, 1, "authserver: create client: jwks: give jwks or jwks_uri, not both (RFC 7591 section 2)")
	run1(runClients, "", withConn(s, "create", append(cc, "--jwks-uri", "http://keys.example.com/j")...)...).
		failed(t, 1, "authserver: create client: jwks_uri: must be https")
	run1(runClients, "", withConn(s, "create", cc...)...).failed(t, 1, "authserver: create client: jwks: a private_key_jwt client needs jwks or jwks_uri")
	run1(runClients, "", withConn(s, "create", append(cc, "--jwks-file", filepath.Join(t.TempDir(), "missing.json"))...)...).failed(t, 2, "--jwks-file")
	if list, _ := s.clients.List(ctx); len(list) != 2 {
		t.Errorf("%d clients stored, want the 2 good ones", len(list))
	}
}
