package app_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/config"
	"authserver/keys"
	"authserver/store/embedded"
	"authserver/store/redistest"
	"authserver/store/storetest"
)

// secretsSeen collects every secret a flow handled, for the store scan.
type secretsSeen struct {
	t   *testing.T
	all []storetest.Secret
}

func (s *secretsSeen) add(name string, v []byte) {
	s.t.Helper()
	if len(v) == 0 {
		s.t.Fatalf("the flow saw no %s", name)
	}
	s.all = append(s.all, storetest.Secret{Name: name, Value: v})
}

func (s *secretsSeen) text(name, v string) { s.t.Helper(); s.add(name, []byte(v)) }

// token adds an access token (a JWT, which must not be stored at all, nor
// its signature) and the refresh token, whole and its secret half (the part
// before the dot is the family ID, which is stored).
func (s *secretsSeen) token(name string, tok *oauth2.Token) {
	s.t.Helper()
	s.text(name+" access token", tok.AccessToken)
	if parts := strings.Split(tok.AccessToken, "."); len(parts) == 3 {
		s.text(name+" access token signature", parts[2])
	}
	if tok.RefreshToken != "" {
		s.text(name+" refresh token", tok.RefreshToken)
		_, half, _ := strings.Cut(tok.RefreshToken, ".")
		s.text(name+" refresh token secret", half)
	}
}

// privateKey adds the signing key's private half in the forms it could be
// written in: PKCS#8 DER, PEM, and the raw scalar (a JWK's "d").
func (s *secretsSeen) privateKey(name string, k crypto.Signer) {
	s.t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		s.t.Fatal(err)
	}
	s.add(name+" PKCS#8", der)
	s.add(name+" PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var d []byte
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if d, err = k.Bytes(); err != nil {
			s.t.Fatal(err)
		}
	case ed25519.PrivateKey:
		d = k.Seed()
	case *rsa.PrivateKey:
		d = k.D.Bytes()
	default:
		s.t.Fatalf("signing key of type %T", k)
	}
	s.add(name+" private scalar (JWK d)", d)
}

// storeEverything drives node n through a flow that makes it store a
// record of every kind it has, and returns every secret the flow handled:
// the admin token and key encryption secret; signing keys, one rotated
// out; a confidential client with a rotated secret (both kept for the
// overlap) and a public one; self-registered clients with their initial
// access and registration access tokens, one initial access token left
// unspent; users, one with a changed password; failed client secrets,
// passwords and sign-ins (rate-limit counters); client_credentials,
// password and refresh_token grants with rotation; a revoked access token
// (deny list) and a revoked family; a browser sign-in through the pages
// (session, consent), a code redeemed and one left unredeemed.
func storeEverything(t *testing.T, n *node) []storetest.Secret {
	ctx := context.Background()
	seen := &secretsSeen{t: t}
	seen.text("admin token", n.app.AdminToken)
	kes := []byte(n.app.Config.KeyEncryptionSecret)
	if len(kes) == 0 {
		var err error
		if kes, _, err = keys.LoadOrCreateSecret(n.app.Config.DataDir); err != nil {
			t.Fatal(err)
		}
	}
	seen.add("key encryption secret", kes)
	seen.privateKey("first signing key", n.app.Keys.SigningKey().Private)
	n.admin(t, "POST", "/admin/keys/rotate", map[string]bool{"now": true}) // signs at once
	seen.privateKey("second signing key", n.app.Keys.SigningKey().Private)

	// A confidential client; its secret rotated with an overlap, both
	// secrets used, and a wrong one tried.
	billing := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "billing", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"},
	})
	rotated := n.admin(t, "POST", "/admin/clients/"+s(billing, "id")+"/secret", map[string]any{"overlap": "1h"})
	for i, secret := range []string{s(billing, "client_secret"), s(rotated, "client_secret")} {
		seen.text(fmt.Sprintf("client secret %d", i+1), secret)
		cc := clientcredentials.Config{ClientID: s(billing, "id"), ClientSecret: secret, TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials with secret %d: %v", i+1, err)
		}
		seen.token(fmt.Sprintf("client_credentials %d", i+1), tok)
	}
	wrongSecret := "not the secret of this client"
	seen.text("wrong client secret", wrongSecret)
	if _, err := (&clientcredentials.Config{ClientID: s(billing, "id"), ClientSecret: wrongSecret, TokenURL: n.base + "/token"}).Token(ctx); err == nil {
		t.Fatal("a wrong client secret was accepted")
	}

	// Users: alice signs in; bob's password is changed.
	const alicePass, wrongPass = "alice's long password", "alice's wrong password"
	seen.text("alice's password", alicePass)
	seen.text("a wrong password", wrongPass)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": alicePass})
	bob := n.admin(t, "POST", "/admin/users", map[string]any{"username": "bob", "password": "bob's first password"})
	n.admin(t, "PUT", "/admin/users/"+s(bob, "id")+"/password", map[string]any{"password": "bob's second password"})
	seen.text("bob's first password", "bob's first password")
	seen.text("bob's second password", "bob's second password")

	// Password grant: a failure, a sign-in, two rotations; the newest
	// access token revoked (deny list); a second family revoked whole.
	mobile := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"}, "first_party": true,
	})
	seen.text("mobile's client secret", s(mobile, "client_secret"))
	conf := oauth2.Config{ClientID: s(mobile, "id"), ClientSecret: s(mobile, "client_secret"),
		Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	if _, err := conf.PasswordCredentialsToken(ctx, "alice", wrongPass); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", alicePass)
	if err != nil {
		t.Fatal(err)
	}
	seen.token("password grant", tok)
	for i := range 2 {
		next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
		if err != nil || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh %d: %v (rotated: %v)", i+1, err, next != nil && next.RefreshToken != tok.RefreshToken)
		}
		tok = next
		seen.token(fmt.Sprintf("refresh %d", i+1), tok)
	}
	revoke := func(token string) {
		t.Helper()
		req, _ := http.NewRequest("POST", n.base+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
	}
	revoke(tok.AccessToken)
	if active, _ := introspectAt(t, n.base, tok.AccessToken, conf.ClientID, conf.ClientSecret); active {
		t.Fatal("a revoked access token is active")
	}
	other, err := conf.PasswordCredentialsToken(ctx, "alice", alicePass)
	if err != nil {
		t.Fatal(err)
	}
	seen.token("revoked family", other)
	revoke(other.RefreshToken)

	// A public client, third-party: sign-in pages with a failed attempt,
	// consent, a code redeemed and refreshed, one left unredeemed.
	const redirect = "https://app.example.test/callback"
	spa := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "spa", "public": true, "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"profile"}, "redirect_uris": []string{redirect},
	})
	verifier := oauth2.GenerateVerifier()
	seen.text("PKCE verifier", verifier)
	spaConf := oauth2.Config{ClientID: s(spa, "id"), RedirectURL: redirect, Scopes: []string{"profile"},
		Endpoint: oauth2.Endpoint{AuthURL: n.base + "/authorize", TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	authURL := func(opts ...oauth2.AuthCodeOption) string {
		return spaConf.AuthCodeURL("some state", append(opts, oauth2.S256ChallengeOption(verifier))...)
	}
	p := newPages(t, n.base)
	a := p.follow(p.do(http.MethodGet, authURL(), nil))
	a = p.submit(a, url.Values{"username": {"alice"}, "password": {wrongPass}})
	if !strings.Contains(a.body, "Invalid username or password") {
		t.Fatalf("a wrong password on the sign-in page: %d %s", a.status, a.body)
	}
	a = p.submit(a, url.Values{"username": {"alice"}, "password": {alicePass}})
	if !strings.Contains(a.body, `value="allow"`) {
		t.Fatalf("no consent page for a third-party client: %d %s", a.status, a.body)
	}
	// The consent form's CSRF token is derived from the session cookie,
	// never stored.
	if m := pageCSRF.FindStringSubmatch(a.body); m != nil {
		seen.text("consent CSRF token", html.UnescapeString(m[1]))
	} else {
		t.Fatal("no CSRF token on the consent page")
	}
	code := callback(t, p.submit(a, url.Values{"decision": {"allow"}})).Get("code")
	seen.text("redeemed code", code)
	cookies := map[string]string{}
	for _, c := range p.c.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(n.base, "http://")}) {
		cookies[c.Name] = c.Value
	}
	seen.text("session cookie", cookies["authserver_session"])
	seen.text("sign-in CSRF cookie", cookies["authserver_csrf"])
	codeTok, err := spaConf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	seen.token("authorization_code", codeTok)
	refreshed, err := spaConf.TokenSource(ctx, &oauth2.Token{RefreshToken: codeTok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	seen.token("public refresh", refreshed)
	pending := callback(t, p.do(http.MethodGet, authURL(oauth2.SetAuthURLParam("prompt", "none")), nil)).Get("code")
	seen.text("unredeemed code", pending)

	// Self-registration: a one-use initial access token spent, its client
	// managed (RFC 7592) and used; another token left unspent.
	iat := s(n.admin(t, "POST", "/admin/initial-access-tokens", map[string]any{"uses": 1}), "token")
	unspent := s(n.admin(t, "POST", "/admin/initial-access-tokens", map[string]any{"uses": 3}), "token")
	seen.text("spent initial access token", iat)
	seen.text("unspent initial access token", unspent)
	md := map[string]any{"client_name": "partner", "grant_types": []string{"client_credentials"}, "scope": "invoices:read"}
	status, reg := partnerCall(t, "POST", n.base+"/register", iat, md)
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	seen.text("registered client secret", s(reg, "client_secret"))
	seen.text("registration access token", s(reg, "registration_access_token"))
	md["client_id"], md["client_name"] = s(reg, "client_id"), "partner v2"
	if status, body := partnerCall(t, "PUT", s(reg, "registration_client_uri"), s(reg, "registration_access_token"), md); status != http.StatusOK {
		t.Fatalf("RFC 7592 update: %d %v", status, body)
	}
	regTok, err := (&clientcredentials.Config{ClientID: s(reg, "client_id"), ClientSecret: s(reg, "client_secret"), TokenURL: n.base + "/token"}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen.token("registered client", regTok)
	return seen.all
}

// embeddedDump is the embedded store's storetest.Dumper: every key and
// value Walk finds, and the file's bytes as they are on disk, which also
// hold pages bbolt has freed but not overwritten.
func embeddedDump(t *testing.T, n *node, buckets map[string]int) storetest.Dumper {
	st, ok := n.app.Store.(*embedded.Store)
	if !ok {
		t.Fatalf("store is a %T", n.app.Store)
	}
	return func(yield func(string, []byte)) error {
		err := st.Walk(context.Background(), func(path [][]byte, k, v []byte) error {
			where := fmt.Sprintf("bucket %s key %x", bytes.Join(path, []byte("/")), k)
			yield(where+" (the key)", k)
			if v != nil {
				yield(where+" value", v)
			}
			if len(path) == 1 {
				buckets[string(path[0])]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		file, err := os.ReadFile(filepath.Join(n.app.Config.DataDir, "authserver.db"))
		yield("the file's bytes", file)
		return err
	}
}

// redisKinds lists the kinds of key store/redis/doc.go documents, with the
// variable part replaced by "…".
var redisKinds = []string{
	"{cfam:…}", "{client:…}", "{clients}", "{code:…}", "{consent:…}", "{deny:…}", "{fam:…}", "{iat:…}",
	"{keys}:alg", "{keys}:all", "{rl:…}", "{sess:…}", "{ufam:…}", "{uname:…}", "{user:…}", "{users}",
}

var variablePart = regexp.MustCompile(`^\{([a-z]+):.*\}$`)

// redisDump wraps dump, counting the keys of each kind it yields.
func redisDump(dump storetest.Dumper, kinds map[string]int) storetest.Dumper {
	return func(yield func(string, []byte)) error {
		return dump(func(where string, data []byte) {
			if strings.HasSuffix(where, " (the key)") {
				kinds[variablePart.ReplaceAllString(strings.TrimPrefix(string(data), "authserver:"), "{$1:…}")]++
			}
			yield(where, data)
		})
	}
}

// wantEveryKind fails unless got holds exactly the kinds in want: a kind
// missing means the flow no longer stores it, and so proves nothing about
// it; a new one means the store learned a record the flow should cover.
func wantEveryKind(t *testing.T, what string, got map[string]int, want []string) {
	t.Helper()
	var kinds []string
	for k := range got {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, want) {
		t.Errorf("the store holds %s %v after the flow, want exactly %v", what, kinds, want)
	}
}

// embeddedBuckets are the embedded store's buckets (store/embedded/store.go);
// "expiry" repeats other buckets' keys after a deadline (expiry.go), so it is
// scanned as well.
var embeddedBuckets = []string{
	"client_families", "clients", "codes", "consents", "denied", "expiry", "families", "initial_access_tokens",
	"keys", "meta", "ratelimit", "sessions", "user_families", "usernames", "users",
}

func TestStoreHoldsNoSecretEmbedded(t *testing.T) {
	n := startNode(t, nil)
	secrets := storeEverything(t, n)
	buckets := map[string]int{}
	storetest.ScanForSecrets(t, embeddedDump(t, n, buckets), secrets)
	wantEveryKind(t, "records in buckets", buckets, embeddedBuckets)
}

func TestStoreHoldsNoSecretRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	secrets := storeEverything(t, n)
	kinds := map[string]int{}
	storetest.ScanForSecrets(t, redisDump(r.Dump, kinds), secrets)
	wantEveryKind(t, "keys", kinds, redisKinds)
}

func TestStoreHoldsNoSecretRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	n := startNode(t, func(cfg *config.Config) { cfg.Redis.Addrs, cfg.Redis.Cluster = c.Addrs, true })
	secrets := storeEverything(t, n)
	kinds := map[string]int{}
	storetest.ScanForSecrets(t, redisDump(c.Dump, kinds), secrets)
	wantEveryKind(t, "keys", kinds, redisKinds)
}
