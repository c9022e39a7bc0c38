package registration_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"authserver/clients"
	"authserver/registration"
)

// A client registers for private_key_jwt with its public keys (RFC 7591
// §2 jwks or jwks_uri) and is issued no secret; a key set with private
// key material is refused and stores nothing.
func TestRegisterPrivateKeyJWT(t *testing.T) {
	e := newEnv(t, registration.Config{})
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	pub := map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	jwks := func(key map[string]any) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"keys": []any{key}})
		return b
	}

	md := machine()
	md.TokenEndpointAuthMethod, md.JWKS = clients.AuthPrivateKeyJWT, jwks(pub)
	info := e.register(md)
	if info.ClientSecret != "" || info.ClientSecretExpiresAt != nil || info.TokenEndpointAuthMethod != "private_key_jwt" || len(info.JWKS) == 0 {
		t.Fatalf("private_key_jwt registration: %+v", info)
	}
	c, err := e.clients.Get(context.Background(), info.ClientID)
	if err != nil || len(c.SecretHash) != 0 || len(c.JWKS) == 0 {
		t.Fatalf("stored client: %+v, %v", c, err)
	}

	// RFC 7592: the client moves its keys to a URL; it cannot turn into a
	// secret client (it would have no secret).
	upd := machine()
	upd.TokenEndpointAuthMethod, upd.JWKSURI = clients.AuthPrivateKeyJWT, "https://partner.example/keys.json"
	u, err := e.svc.Update(context.Background(), info.ClientID, info.RegistrationAccessToken, registration.UpdateRequest{Metadata: upd, ClientID: info.ClientID})
	if err != nil || u.JWKSURI != upd.JWKSURI || len(u.JWKS) != 0 || u.ClientSecret != "" {
		t.Fatalf("update to jwks_uri: %+v, %v", u, err)
	}
	_, err = e.svc.Update(context.Background(), info.ClientID, info.RegistrationAccessToken, registration.UpdateRequest{Metadata: machine(), ClientID: info.ClientID})
	wantCode(t, err, registration.CodeInvalidClientMetadata, "private_key_jwt")

	md = machine()
	md.TokenEndpointAuthMethod, md.JWKSURI = clients.AuthPrivateKeyJWT, "https://partner.example/jwks.json"
	if info := e.register(md); info.JWKSURI != md.JWKSURI || info.ClientSecret != "" {
		t.Fatalf("jwks_uri registration: %+v", info)
	}

	before := e.clientCount()
	withD := map[string]any{"d": b64(k.D.Bytes())}
	for m, v := range pub {
		withD[m] = v
	}
	for name, md := range map[string]registration.Metadata{
		"private member": func() registration.Metadata {
			md := machine()
			md.TokenEndpointAuthMethod, md.JWKS = clients.AuthPrivateKeyJWT, jwks(withD)
			return md
		}(),
		"no keys": func() registration.Metadata {
			md := machine()
			md.TokenEndpointAuthMethod = clients.AuthPrivateKeyJWT
			return md
		}(),
		"both": func() registration.Metadata {
			md := machine()
			md.TokenEndpointAuthMethod, md.JWKS, md.JWKSURI = clients.AuthPrivateKeyJWT, jwks(pub), "https://partner.example/jwks.json"
			return md
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Register(context.Background(), e.iat(1), md)
			wantCode(t, err, registration.CodeInvalidClientMetadata, "jwks")
		})
	}
	if n := e.clientCount(); n != before {
		t.Fatalf("refused registrations stored %d clients", n-before)
	}
}
