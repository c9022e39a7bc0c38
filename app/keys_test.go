package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/config"
	"authserver/store/redistest"
)

// kidOf reads the kid header of a JWT.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.KID
}

// knows reports whether n has kid in its loaded key set, looking without
// verifying anything (a verification would reload on a miss).
func knows(n *node, kid string) bool {
	for _, k := range n.app.Keys.Keys() {
		if k.ID == kid {
			return true
		}
	}
	return false
}

// waitKnows waits for n to load kid, bounded far below the one-minute
// periodic reload, so only the change announcement can make it in time.
func waitKnows(t *testing.T, n *node, kid string) time.Duration {
	t.Helper()
	began := time.Now()
	for !knows(n, kid) {
		if time.Since(began) > 5*time.Second {
			t.Fatalf("node b does not know key %s 5s after node a added it", kid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(began)
}

func TestKeyRotationReachesEveryNodeAtOnce(t *testing.T) {
	r := redistest.StartStandalone(t)
	shared := func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.KeyEncryptionSecret = "a shared key encryption secret for both nodes"
		// One issuer behind a load balancer, as tokens must carry one iss.
		c.Issuer, c.Tokens.Audience = "https://auth.example", "https://auth.example"
	}
	a, b := startNode(t, shared), startNode(t, shared)
	ctx := context.Background()

	// A scheduled or ordinary rotation: node b publishes the new key at once,
	// and neither node signs with it before publish_ahead.
	pending := a.admin(t, "POST", "/admin/keys/rotate", nil)
	waitKnows(t, b, pending["kid"].(string))
	if !strings.Contains(getBody(t, b.base+"/jwks"), pending["kid"].(string)) {
		t.Error("node b does not publish the pending key")
	}

	rs := a.admin(t, "POST", "/admin/clients", map[string]any{"name": "api", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"}})
	id, secret := rs["id"].(string), rs["client_secret"].(string)
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: a.base + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, tok.AccessToken) == pending["kid"] {
		t.Fatal("node a signs with a key still within publish_ahead")
	}

	// An emergency rotation signs at once on node a; node b hears of it and
	// calls node a's fresh tokens active straight away.
	now := a.admin(t, "POST", "/admin/keys/rotate", map[string]bool{"now": true})
	kid := now["kid"].(string)
	waitKnows(t, b, kid)
	tok, err = cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, tok.AccessToken) != kid {
		t.Fatalf("node a signs with %s after rotate now, want %s", kidOf(t, tok.AccessToken), kid)
	}
	if active, body := introspectAt(t, b.base, tok.AccessToken, id, secret); !active {
		t.Fatalf("node b calls a token signed by the new key inactive: %v", body)
	}
	if _, err := b.app.Issuer.Verify(tok.AccessToken); err != nil {
		t.Fatalf("node b rejects the new key: %v", err)
	}
}

func TestJWKSMaxAgeIsTheConfiguredOne(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Signing.JWKSMaxAge = 90 * time.Second
		c.Signing.PublishAhead = config.MinPublishAhead(c.Signing.JWKSMaxAge)
	})
	resp, err := http.Get(n.base + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Cache-Control"), "public, max-age="+strconv.Itoa(90); got != want {
		t.Errorf("Cache-Control = %q, want %q", got, want)
	}
}

// The set holds the access-token key and one key per ID Token algorithm
// (RS256, EdDSA beside the default ES256); a rotation adds a pending
// successor to each.
func TestKeyListOverAdminAPI(t *testing.T) {
	n := startNode(t, nil)
	signing := n.app.Keys.SigningKey().ID
	rotated := n.admin(t, "POST", "/admin/keys/rotate", nil)
	list := n.admin(t, "GET", "/admin/keys", nil)["keys"].([]any)
	states := map[string]string{}
	perAlg := map[string][]string{}
	for _, k := range list {
		k := k.(map[string]any)
		states[k["kid"].(string)] = k["state"].(string)
		perAlg[k["alg"].(string)] = append(perAlg[k["alg"].(string)], k["state"].(string))
	}
	if states[signing] != "signing" || states[rotated["kid"].(string)] != "pending" || rotated["alg"] != "ES256" {
		t.Errorf("GET /admin/keys states = %v", states)
	}
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		if got := strings.Join(perAlg[alg], " "); got != "signing pending" {
			t.Errorf("%s keys %q, want one signing and its pending successor", alg, got)
		}
	}
	if len(perAlg) != 3 {
		t.Errorf("algorithms %v", perAlg)
	}
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
