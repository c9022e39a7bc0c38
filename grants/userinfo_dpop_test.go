package grants_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/grants"
)

// userInfoCall is one request to the harness's /userinfo.
type userInfoCall struct {
	status    int
	challenge []string // WWW-Authenticate values
	body      map[string]any
	nonce     string
}

func (h *harness) userInfo(t *testing.T, method, auth string, proofs ...string) userInfoCall {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	c := userInfoCall{status: resp.StatusCode, challenge: resp.Header.Values("WWW-Authenticate"), nonce: resp.Header.Get("DPoP-Nonce")}
	_ = json.NewDecoder(resp.Body).Decode(&c.body)
	return c
}

// wantDPoPRefusal asserts a 401 whose error is on the DPoP challenge.
func (c userInfoCall) wantDPoPRefusal(t *testing.T, code string) {
	t.Helper()
	if c.status != http.StatusUnauthorized || c.body["error"] != code {
		t.Fatalf("got %d %v, want 401 %s", c.status, c.body, code)
	}
	var dpopChallenge string
	for _, ch := range c.challenge {
		if strings.HasPrefix(ch, "DPoP ") {
			dpopChallenge = ch
		} else if strings.Contains(ch, "error=") {
			t.Errorf("error on the Bearer challenge too: %q", ch)
		}
	}
	if !strings.Contains(dpopChallenge, `error="`+code+`"`) || !strings.Contains(dpopChallenge, `algs="ES256`) {
		t.Fatalf("WWW-Authenticate %q, want a DPoP challenge with error %s", c.challenge, code)
	}
}

func TestDPoPUserInfo(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, _ := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	u := h.user(t, "alice", "alice's long password")
	k, other := newDPoPKey(t), newDPoPKey(t)
	mint := func(jkt string) string {
		tok, err := h.issuer.Mint(grants.Access{ClientID: id, UserID: u.ID, Scope: "openid", IssuedAt: time.Now(), TTL: time.Minute, JKT: jkt})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bound, plain := mint(k.jkt), mint("")
	proof := func(key dpopKey, method, token string) string {
		return key.proofFor(t, method, userInfoURL, token, "", time.Now())
	}

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if c := h.userInfo(t, method, "DPoP "+bound, proof(k, method, bound)); c.status != http.StatusOK || c.body["sub"] == nil {
			t.Fatalf("%s with a proof: %d %v", method, c.status, c.body)
		}
	}
	p := proof(k, http.MethodGet, bound)
	if c := h.userInfo(t, http.MethodGet, "DPoP "+bound, p); c.status != http.StatusOK {
		t.Fatalf("first use of a proof: %d %v", c.status, c.body)
	}
	h.userInfo(t, http.MethodGet, "DPoP "+bound, p).wantDPoPRefusal(t, "invalid_dpop_proof")

	// A bound token is no bearer token (RFC 9449 §7.1).
	h.userInfo(t, http.MethodGet, "Bearer "+bound).wantDPoPRefusal(t, "invalid_token")
	h.userInfo(t, http.MethodGet, "Bearer "+bound, proof(k, http.MethodGet, bound)).wantDPoPRefusal(t, "invalid_token")

	for name, c := range map[string]userInfoCall{
		"no proof":          h.userInfo(t, http.MethodGet, "DPoP "+bound),
		"no ath":            h.userInfo(t, http.MethodGet, "DPoP "+bound, proof(k, http.MethodGet, "")),
		"ath of a token":    h.userInfo(t, http.MethodGet, "DPoP "+bound, proof(k, http.MethodGet, plain)),
		"wrong htm":         h.userInfo(t, http.MethodGet, "DPoP "+bound, proof(k, http.MethodPost, bound)),
		"htu of /token":     h.userInfo(t, http.MethodGet, "DPoP "+bound, k.proofFor(t, http.MethodGet, tokenURL, bound, "", time.Now())),
		"stale iat":         h.userInfo(t, http.MethodGet, "DPoP "+bound, k.proofFor(t, http.MethodGet, userInfoURL, bound, "", time.Now().Add(-time.Hour))),
		"two proofs":        h.userInfo(t, http.MethodGet, "DPoP "+bound, proof(k, http.MethodGet, bound), proof(k, http.MethodGet, bound)),
		"htu of the listen": h.userInfo(t, http.MethodGet, "DPoP "+bound, k.proofFor(t, http.MethodGet, h.srv.URL+"/userinfo", bound, "", time.Now())),
	} {
		t.Run(name, func(t *testing.T) { c.wantDPoPRefusal(t, "invalid_dpop_proof") })
	}
	// Another key's valid proof: the token is fine, the caller is not its holder.
	h.userInfo(t, http.MethodGet, "DPoP "+bound, proof(other, http.MethodGet, bound)).wantDPoPRefusal(t, "invalid_token")

	// Unbound tokens: Bearer as before, and not with the DPoP scheme.
	if c := h.userInfo(t, http.MethodGet, "Bearer "+plain); c.status != http.StatusOK {
		t.Fatalf("bearer token: %d %v", c.status, c.body)
	}
	h.userInfo(t, http.MethodGet, "DPoP "+plain, proof(k, http.MethodGet, plain)).wantDPoPRefusal(t, "invalid_token")

	// A dead token with the DPoP scheme is challenged on DPoP.
	h.userInfo(t, http.MethodGet, "DPoP not-a-token", proof(k, http.MethodGet, "not-a-token")).wantDPoPRefusal(t, "invalid_token")
}

// A bound token in a form body is a bearer use, and refused.
func TestDPoPUserInfoBoundTokenInBody(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{})
	id, _ := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	u := h.user(t, "alice", "alice's long password")
	k := newDPoPKey(t)
	bound, err := h.issuer.Mint(grants.Access{ClientID: id, UserID: u.ID, Scope: "openid", IssuedAt: time.Now(), TTL: time.Minute, JKT: k.jkt})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/userinfo", strings.NewReader(url.Values{"access_token": {bound}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", k.proofFor(t, http.MethodPost, userInfoURL, bound, "", time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), "|"), `DPoP realm="userinfo", algs=`) {
		t.Fatalf("bound token in the body: %d %v", resp.StatusCode, resp.Header)
	}
}

// With nonces required, /userinfo asks for one too (RFC 9449 §9).
func TestDPoPUserInfoNonce(t *testing.T) {
	h := newDPoPHarness(t, dpopOptions{nonces: true})
	id, _ := h.client(t, clients.Registration{GrantTypes: []string{"password"}})
	u := h.user(t, "alice", "alice's long password")
	k := newDPoPKey(t)
	bound, err := h.issuer.Mint(grants.Access{ClientID: id, UserID: u.ID, Scope: "openid", IssuedAt: time.Now(), TTL: time.Minute, JKT: k.jkt})
	if err != nil {
		t.Fatal(err)
	}
	c := h.userInfo(t, http.MethodGet, "DPoP "+bound, k.proofFor(t, http.MethodGet, userInfoURL, bound, "", time.Now()))
	c.wantDPoPRefusal(t, "use_dpop_nonce")
	if c.nonce == "" {
		t.Fatal("use_dpop_nonce without DPoP-Nonce")
	}
	if c := h.userInfo(t, http.MethodGet, "DPoP "+bound, k.proofFor(t, http.MethodGet, userInfoURL, bound, c.nonce, time.Now())); c.status != http.StatusOK {
		t.Fatalf("with the nonce: %d %v", c.status, c.body)
	}
}
