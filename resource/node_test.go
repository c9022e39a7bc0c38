package resource_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"authserver/app"
	"authserver/app/apptest"
	"authserver/config"
)

func init() { gin.SetMode(gin.TestMode) } // quiet route listings

// node is a real authserver running in-process on loopback, with the
// embedded store (no Redis).
type node struct {
	app      *app.App
	base     string
	adminURL string
}

func startNode(t *testing.T) *node {
	t.Helper()
	n := apptest.Start(t, func(cfg *config.Config) {
		cfg.Scopes = []string{"openid", "photos:read", "photos:write", "invoices:read"}
	}, nil)
	return &node{app: n.App, base: n.Base, adminURL: n.AdminURL}
}

// admin calls the node's admin API.
func (n *node) admin(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, n.adminURL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if resp.StatusCode >= 300 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return out
}

// client registers a client of grants and scopes whose tokens are for
// audience.
func (n *node) client(t *testing.T, audience string, grants, scopes []string) (id, secret string) {
	t.Helper()
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "api client", "grant_types": grants, "scopes": scopes, "audience": []string{audience},
	})
	return c["id"].(string), c["client_secret"].(string)
}

// token posts form to /token as the client and returns the JSON answer.
func (n *node) token(t *testing.T, id, secret string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", n.base+"/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("/token: %d %s", resp.StatusCode, raw)
	}
	return out
}

// accessToken mints a client_credentials token for audience with scope.
func (n *node) accessToken(t *testing.T, audience, scope string) (token, clientID string) {
	t.Helper()
	id, secret := n.client(t, audience, []string{"client_credentials"}, strings.Fields(scope))
	tok := n.token(t, id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	return tok["access_token"].(string), id
}
