package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"authserver/clients"
)

// payloadOf decodes a JWT's claims without verifying them (the grants and
// app tests verify ID Tokens as a relying party does).
func payloadOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The nonce of the authorization request survives the sign-in and consent
// pages and comes back, exactly, in the ID Token.
func TestAuthorizeKeepsNonceThroughSignInAndConsent(t *testing.T) {
	s := newStack(t)
	// ES256: the stack's key set holds only the access-token algorithm.
	id, secret := s.app(t, clients.Registration{Scopes: []string{"openid", "profile"}, IDTokenAlg: "ES256"})
	alice := s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	base := s.srv.URL
	const nonce = "n-0S6_WzA2Mj & more"

	p := b.signIn(b.get(s.authURL(id, "scope", "openid profile", "nonce", nonce)), base, "alice", "alice's long password")
	q := b.decide(p, base, "allow").location(t).Query()
	status, tok := s.exchange(t, id, secret, q.Get("code"), testVerifier)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	raw, _ := tok["id_token"].(string)
	claims := payloadOf(t, raw)
	if claims["nonce"] != nonce || claims["sub"] != alice.ID || claims["aud"] != id || claims["iss"] != s.issuer {
		t.Fatalf("ID Token claims %v", claims)
	}

	// Remembered consent, no nonce this time: none in the token.
	q = b.get(s.authURL(id, "scope", "openid")).location(t).Query()
	_, tok = s.exchange(t, id, secret, q.Get("code"), testVerifier)
	raw, _ = tok["id_token"].(string)
	if _, ok := payloadOf(t, raw)["nonce"]; ok {
		t.Fatalf("nonce without one in the request: %v", payloadOf(t, raw))
	}
}

// Only the code flow is served: implicit and hybrid response types are
// refused at the client's redirect URI.
func TestAuthorizeRefusesImplicitAndHybrid(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{Scopes: []string{"openid", "profile"}})
	b := newBrowser(t)
	for _, rt := range []string{"id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"} {
		t.Run(rt, func(t *testing.T) {
			wantRedirectError(t, s, b.get(s.authURL(id, "response_type", rt, "scope", "openid", "nonce", "n")), "unsupported_response_type")
		})
	}
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Discovery 1.0 §3, and the same value for every field the RFC 8414
// document shares with it.
func TestOpenIDConfiguration(t *testing.T) {
	s := newStack(t)
	doc := getJSON(t, s.srv.URL+"/.well-known/openid-configuration")
	oauth := getJSON(t, s.srv.URL+"/.well-known/oauth-authorization-server")
	str := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for k, want := range map[string]string{
		"issuer":                                `"` + s.issuer + `"`,
		"authorization_endpoint":                `"` + s.issuer + `/authorize"`,
		"token_endpoint":                        `"` + s.issuer + `/token"`,
		"jwks_uri":                              `"` + s.issuer + `/jwks"`,
		"userinfo_endpoint":                     `"` + s.issuer + `/userinfo"`,
		"end_session_endpoint":                  `"` + s.issuer + `/end_session"`,
		"backchannel_logout_supported":          `true`,
		"backchannel_logout_session_supported":  `true`,
		"response_types_supported":              `["code"]`,
		"response_modes_supported":              `["query"]`,
		"subject_types_supported":               `["public","pairwise"]`,
		"prompt_values_supported":               `["none","login","consent"]`,
		"id_token_signing_alg_values_supported": `["RS256","ES256","EdDSA"]`,
		"code_challenge_methods_supported":      `["S256"]`,
		"token_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post","private_key_jwt","none"]`,
		"grant_types_supported":                 `["authorization_code","client_credentials","password","refresh_token"]`,
		"claims_supported": `["iss","sub","aud","exp","iat","auth_time","nonce","at_hash",` +
			`"name","family_name","given_name","middle_name","nickname","preferred_username","profile","picture","website",` +
			`"gender","birthdate","zoneinfo","locale","updated_at","email","email_verified","phone_number","phone_number_verified","address"]`,
	} {
		if got := str(doc[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if !strings.Contains(str(doc["scopes_supported"]), `"openid"`) {
		t.Errorf("scopes_supported %v lacks openid", doc["scopes_supported"])
	}
	for k, v := range oauth {
		if str(doc[k]) != str(v) {
			t.Errorf("%s differs: %s in openid-configuration, %s in RFC 8414 metadata", k, str(doc[k]), str(v))
		}
	}
}
