package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"authserver/cimd/cimdtest"
	"authserver/config"
)

var (
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	formCSRFRe   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

// pageClient is a browser without JavaScript: cookies, no redirects.
func pageClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// pageReader reads an answer in full: read(http.Get(u)).
func pageReader(t *testing.T) func(*http.Response, error) (*http.Response, string) {
	return func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
}

func submit(t *testing.T, c *http.Client, base, body string, form url.Values) (*http.Response, string) {
	t.Helper()
	a, s := formActionRe.FindStringSubmatch(body), formCSRFRe.FindStringSubmatch(body)
	if a == nil || s == nil {
		t.Fatalf("no form on the page: %s", body)
	}
	form.Set("csrf", html.UnescapeString(s[1]))
	return pageReader(t)(c.PostForm(base+html.UnescapeString(a[1]), form))
}

// A client known to no one: its client_id is the URL of its document on a
// TLS server (trusted through fetch.ca_file), and the node signs a user in
// for it, asks consent on a page marking it unverified, and exchanges the
// code with PKCE for tokens, a refresh token among them though
// offline_access was never asked for (cimdFlow).
func TestClientIDMetadataDocumentEndToEnd(t *testing.T) {
	tok, conf := cimdFlow(t, nil, nil, nil)
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token without offline_access: %+v", tok)
	}
	if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

// tokens.refresh_without_offline_access false: the same client, which
// never asks for offline_access, gets no refresh token.
func TestOfflineAccessForRefreshEndToEnd(t *testing.T) {
	tok, _ := cimdFlow(t, func(c *config.Config) { c.Tokens.RefreshWithoutOfflineAccess = false }, nil, nil)
	if tok.AccessToken == "" || tok.RefreshToken != "" {
		t.Fatalf("token %+v", tok)
	}
}

// cimdFlow signs alice in for a metadata document client (its document
// changed by edit) and redeems the code, with what auth adds to the
// token request.
func cimdFlow(t *testing.T, tweak func(*config.Config), edit func(map[string]any), auth func(issuer, clientID string) []oauth2.AuthCodeOption) (*oauth2.Token, oauth2.Config) {
	origin := cimdtest.New(t)
	read := pageReader(t)
	n := startNode(t, func(c *config.Config) {
		c.Fetch.AllowLoopback, c.Fetch.CAFile = true, origin.CAFile
		if tweak != nil {
			tweak(c)
		}
	})
	const redirect = "http://127.0.0.1:40123/callback"
	id := origin.Document("/mcp/client.json", []string{redirect}, func(d map[string]any) {
		d["scope"] = "profile"
		if edit != nil {
			edit(d)
		}
	})
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})

	_, body := read(http.Get(n.base + "/.well-known/oauth-authorization-server"))
	var md map[string]any
	if err := json.Unmarshal([]byte(body), &md); err != nil || md["client_id_metadata_document_supported"] != true {
		t.Fatalf("metadata should advertise client_id_metadata_document_supported: %v %s", err, body)
	}

	conf := oauth2.Config{ClientID: id, RedirectURL: redirect, Scopes: []string{"profile"},
		Endpoint: oauth2.Endpoint{AuthURL: n.base + "/authorize", TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	c := pageClient()
	resp, body := read(c.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Example MCP Client") {
		t.Fatalf("sign-in page: %d %s", resp.StatusCode, body)
	}
	resp, body = submit(t, c, n.base, body, url.Values{"username": {"alice"}, "password": {"alice's long password"}})
	for resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/") {
		resp, body = read(c.Get(n.base + resp.Header.Get("Location")))
	}
	if !strings.Contains(body, "not been verified by the administrator") || !strings.Contains(body, strings.TrimPrefix(origin.URL, "https://")) {
		t.Fatalf("consent page should mark the client unverified and name its host: %s", body)
	}
	resp, _ = submit(t, c, n.base, body, url.Values{"decision": {"allow"}})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("authorization response %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
	if auth != nil {
		opts = append(opts, auth(n.base, id)...)
	}
	tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if verify(t, n, tok.AccessToken).Scope != "profile" {
		t.Fatalf("token %+v", tok)
	}
	if origin.Hits() != 1 {
		t.Fatalf("the document was fetched %d times, want once", origin.Hits())
	}
	return tok, conf
}

// Off, a URL client_id is an unknown client and the metadata says nothing.
func TestClientIDMetadataDocumentDisabled(t *testing.T) {
	origin := cimdtest.New(t)
	read := pageReader(t)
	n := startNode(t, func(c *config.Config) {
		c.Fetch.AllowLoopback, c.Fetch.CAFile = true, origin.CAFile
		c.ClientIDMetadata.Enabled = false
	})
	id := origin.Document("/c.json", []string{"http://127.0.0.1/cb"}, nil)
	resp, body := read(http.Get(n.base + "/authorize?response_type=code&client_id=" + url.QueryEscape(id) + "&redirect_uri=" + url.QueryEscape("http://127.0.0.1/cb")))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not registered") || origin.Hits() != 0 {
		t.Fatalf("disabled: %d hits %d %s", resp.StatusCode, origin.Hits(), body)
	}
	_, body = read(http.Get(n.base + "/.well-known/oauth-authorization-server"))
	if strings.Contains(body, "client_id_metadata_document_supported") {
		t.Fatalf("disabled, the metadata must not advertise it: %s", body)
	}
}

// A document may describe a private_key_jwt client by its public keys: it
// authenticates at /token with an assertion signed by its own key.
func TestClientIDMetadataDocumentPrivateKeyJWT(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pad := func(b []byte) string {
		return base64.RawURLEncoding.EncodeToString(append(make([]byte, 32-len(b)), b...))
	}
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": pad(key.X.Bytes()), "y": pad(key.Y.Bytes())}
	assertion := func(issuer, clientID string) []oauth2.AuthCodeOption {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
			Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{issuer}, ID: oauth2.GenerateVerifier(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		})
		tok.Header["kid"] = "k1"
		signed, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return []oauth2.AuthCodeOption{
			oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", signed),
		}
	}
	tok, _ := cimdFlow(t, nil, func(d map[string]any) {
		d["token_endpoint_auth_method"] = "private_key_jwt"
		d["jwks"] = map[string]any{"keys": []any{jwk}}
	}, assertion)
	if tok.AccessToken == "" {
		t.Fatalf("token %+v", tok)
	}
}
