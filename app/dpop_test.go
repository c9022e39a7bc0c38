package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"authserver/config"
	"authserver/dpop"
	"authserver/store/redistest"
)

// dpopHolder is a client's DPoP key and the last server nonce it got.
type dpopHolder struct {
	t     *testing.T
	n     *node
	priv  *ecdsa.PrivateKey
	jkt   string
	nonce string
}

func newDPoPHolder(t *testing.T, n *node) *dpopHolder {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.ThumbprintKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &dpopHolder{t: t, n: n, priv: k, jkt: jkt}
}

func (h *dpopHolder) proof(method, path, accessToken string) string {
	h.t.Helper()
	p, err := dpop.NewProof(h.priv, "ES256", method, h.n.app.Config.Issuer+path, accessToken, h.nonce, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// dpopAnswer is an answer and its decoded JSON body.
type dpopAnswer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a dpopAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// send makes req with a fresh proof (build adds it), keeping the nonce of
// every answer, and retries once when the server asks for a nonce, as a
// client does (RFC 9449 §8).
func (h *dpopHolder) send(build func(proof string) *http.Request, method, path, accessToken string) dpopAnswer {
	h.t.Helper()
	for attempt := 0; ; attempt++ {
		a := h.sendOnce(build(h.proof(method, path, accessToken)))
		if a.str("error") == "use_dpop_nonce" && attempt == 0 {
			continue
		}
		return a
	}
}

func (h *dpopHolder) sendOnce(req *http.Request) dpopAnswer {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := dpopAnswer{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	_ = json.Unmarshal(raw, &a.body)
	if nonce := resp.Header.Get("DPoP-Nonce"); nonce != "" {
		h.nonce = nonce
	}
	return a
}

// token posts form to /token; basic is "" for a public client.
func (h *dpopHolder) token(form url.Values, basic string) dpopAnswer {
	h.t.Helper()
	return h.send(func(proof string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, h.n.base+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != "" {
			req.Header.Set("Authorization", basic)
		}
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		return req
	}, http.MethodPost, "/token", "")
}

func (h *dpopHolder) userInfo(scheme, accessToken string) dpopAnswer {
	h.t.Helper()
	return h.send(func(proof string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, h.n.base+"/userinfo", nil)
		req.Header.Set("Authorization", scheme+" "+accessToken)
		req.Header.Set("DPoP", proof)
		return req
	}, http.MethodGet, "/userinfo", accessToken)
}

// dpopFlow: a public client signs a user in with dpop_jkt and DPoP proofs
// (server nonces on), through real HTTP: its tokens are bound, UserInfo
// and introspection show it, and its refresh token is useless to a thief.
func dpopFlow(t *testing.T, n *node) {
	var doc map[string]any
	resp, err := http.Get(n.base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if algs, _ := doc["dpop_signing_alg_values_supported"].([]any); !slices.Contains(algs, any("ES256")) {
		t.Fatalf("dpop_signing_alg_values_supported = %v", doc["dpop_signing_alg_values_supported"])
	}

	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "spa", "public": true, "grant_types": []string{"authorization_code", "refresh_token"},
		"scopes": []string{"openid", "profile"}, "redirect_uris": []string{rpRedirect},
	})
	clientID := c["id"].(string)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "erin", "password": "erin's long password"})
	owner, thief := newDPoPHolder(t, n), newDPoPHolder(t, n)

	// Sign in, with the code bound to the owner's key (RFC 9449 §10).
	pkce := oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: clientID, RedirectURL: rpRedirect, Scopes: []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: n.base + "/authorize"}}
	p := newPages(t, n.base)
	a := p.follow(p.do(http.MethodGet, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("dpop_jkt", owner.jkt)), nil))
	a = p.submit(a, url.Values{"username": {"erin"}, "password": {"erin's long password"}})
	if a.status == http.StatusOK {
		a = p.submit(a, url.Values{"decision": {"allow"}})
	}
	code := callback(t, a).Get("code")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {pkce}, "client_id": {clientID}}
	if r := thief.token(exchange, ""); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("code exchanged with another key: %d %v", r.status, r.body)
	}
	// That burnt the code (as any failed check does); sign in again.
	a = p.follow(p.do(http.MethodGet, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("dpop_jkt", owner.jkt)), nil))
	exchange.Set("code", callback(t, a).Get("code"))
	r := owner.token(exchange, "")
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" || r.str("refresh_token") == "" {
		t.Fatalf("exchange: %d %v", r.status, r.body)
	}
	claims, err := n.app.Issuer.Verify(r.str("access_token"))
	if err != nil || claims.Cnf == nil || claims.Cnf.JKT != owner.jkt {
		t.Fatalf("access token cnf %+v, %v", claims, err)
	}
	access, refresh := r.str("access_token"), r.str("refresh_token")

	// UserInfo: with the owner's proof; not as Bearer; not with the thief's.
	if u := owner.userInfo("DPoP", access); u.status != http.StatusOK || u.body["sub"] == nil {
		t.Fatalf("userinfo with DPoP: %d %v", u.status, u.body)
	}
	if u := owner.userInfo("Bearer", access); u.status != http.StatusUnauthorized ||
		!strings.Contains(strings.Join(u.header.Values("WWW-Authenticate"), "|"), `DPoP realm="userinfo", algs="ES256 ES384 RS256 PS256 EdDSA", error="invalid_token"`) {
		t.Fatalf("bound token as Bearer: %d %v", u.status, u.header)
	}
	if u := thief.userInfo("DPoP", access); u.status != http.StatusUnauthorized {
		t.Fatalf("userinfo with the thief's key: %d %v", u.status, u.body)
	}

	// Introspection (RFC 9449 §6.2).
	rs := n.admin(t, "POST", "/admin/clients", map[string]any{"name": "api", "grant_types": []string{"client_credentials"}})
	req, _ := http.NewRequest(http.MethodPost, n.base+"/introspect", strings.NewReader(url.Values{"token": {access}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(rs["id"].(string), rs["client_secret"].(string))
	intro := owner.sendOnce(req)
	if cnf, _ := intro.body["cnf"].(map[string]any); intro.body["token_type"] != "DPoP" || cnf["jkt"] != owner.jkt {
		t.Fatalf("introspection: %v", intro.body)
	}

	// The stolen refresh token: no proof, the thief's proof; then the owner.
	refreshForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}}
	req, _ = http.NewRequest(http.MethodPost, n.base+"/token", strings.NewReader(refreshForm.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := owner.sendOnce(req); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("refresh without a proof: %d %v", r.status, r.body)
	}
	if r := thief.token(refreshForm, ""); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("refresh with the thief's key: %d %v", r.status, r.body)
	}
	if r := owner.token(refreshForm, ""); r.status != http.StatusOK || r.str("token_type") != "DPoP" || r.str("refresh_token") == refresh {
		t.Fatalf("owner's refresh: %d %v", r.status, r.body)
	}

	// A proof is good once.
	proof := owner.proof(http.MethodPost, "/token", "")
	build := func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, n.base+"/token", strings.NewReader(refreshForm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		return req
	}
	owner.sendOnce(build())
	if r := owner.sendOnce(build()); r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("replayed proof: %d %v", r.status, r.body)
	}
}

func dpopNode(c *config.Config) {
	oidcScopes(c)
	c.DPoP.RequireNonce = true
}

func TestDPoPEmbedded(t *testing.T) {
	dpopFlow(t, startNode(t, dpopNode))
}

func TestDPoPRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	dpopFlow(t, startNode(t, func(c *config.Config) { dpopNode(c); c.Redis.URL = r.URL() }))
}

// One proof is one token across nodes: the proof's jti is recorded in the
// shared store, so replaying it at another node, or racing it at both,
// gets one token in all.
func TestDPoPReplayAcrossNodes(t *testing.T) {
	a, b := twoNodesOnRedis(t)
	cl := a.admin(t, http.MethodPost, "/admin/clients", map[string]any{
		"name": "m2m", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"},
	})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(cl["id"].(string)+":"+cl["client_secret"].(string)))
	ha := newDPoPHolder(t, a)
	send := func(n *node, proof string) dpopAnswer {
		req, _ := http.NewRequest(http.MethodPost, n.base+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic)
		req.Header.Set("DPoP", proof)
		return ha.sendOnce(req)
	}
	p := ha.proof(http.MethodPost, "/token", "")
	if got := send(a, p); got.status != http.StatusOK || got.str("token_type") != "DPoP" {
		t.Fatalf("first use at node a: %d %v", got.status, got.body)
	}
	if got := send(b, p); got.status != http.StatusBadRequest || got.str("error") != "invalid_dpop_proof" {
		t.Fatalf("replay at node b: %d %v, want invalid_dpop_proof", got.status, got.body)
	}

	p = ha.proof(http.MethodPost, "/token", "")
	var wg sync.WaitGroup
	var won atomic.Int32
	for i := range 20 {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Go(func() {
			if send(n, p).status == http.StatusOK {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("one proof sent 20 times to two nodes at once got %d tokens, want 1", won.Load())
	}
}
