package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"authserver/app/apptest"
	"authserver/config"
	"authserver/resource"
)

// startNode runs a real authserver on loopback, embedded store, and
// returns its issuer URL and admin call.
func startNode(t *testing.T) (issuer string, admin func(path string, body any) map[string]any) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	n := apptest.Start(t, func(cfg *config.Config) { cfg.Scopes = []string{"photos:read", "photos:write"} }, nil)
	a, adminURL := n.App, n.AdminURL
	return n.Base, func(path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", adminURL+path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+a.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		return call(t, req, 201)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// call does req and decodes its JSON answer, which must have status.
func call(t *testing.T, req *http.Request, status int) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if resp.StatusCode != status || (len(raw) > 0 && json.Unmarshal(raw, &out) != nil) {
		t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL, resp.StatusCode, raw, status)
	}
	return out
}

// The README's walk: a client of the API's audience gets a token from
// authserver and calls GET /photos; the challenges lead to the metadata.
func TestPhotosAPIWithRealTokens(t *testing.T) {
	issuer, admin := startNode(t)
	l := listen(t)
	api := "http://" + l.Addr().String()
	v, err := resource.New(resource.Config{Issuer: issuer, Audience: api, ScopesSupported: []string{"photos:read"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: newHandler(v)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	token := func(audience, scope string) (string, string) {
		c := admin("/admin/clients", map[string]any{"name": "photo app", "grant_types": []string{"client_credentials"},
			"scopes": strings.Fields(scope), "audience": []string{audience}})
		req, _ := http.NewRequest("POST", issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.SetBasicAuth(c["id"].(string), c["client_secret"].(string))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return call(t, req, 200)["access_token"].(string), c["id"].(string)
	}
	photosReq := func(tok string) *http.Request {
		req, _ := http.NewRequest("GET", api+"/photos", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return req
	}

	good, clientID := token(api, "photos:read")
	got := call(t, photosReq(good), 200)
	list, _ := got["photos"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["owner"] != clientID {
		t.Fatalf("photos %v", got)
	}

	wrongScope, _ := token(api, "photos:write")
	call(t, photosReq(wrongScope), 403)
	otherAPI, _ := token("https://other.example.test", "photos:read")
	call(t, photosReq(otherAPI), 401)

	// No token: the challenge names the metadata, which names the issuer.
	resp, err := http.DefaultClient.Do(photosReq(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(resp.Header.Get("WWW-Authenticate"))
	if resp.StatusCode != 401 || m == nil || m[1] != api+"/.well-known/oauth-protected-resource" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", m[1], nil)
	md := call(t, req, 200)
	if md["resource"] != api || md["authorization_servers"].([]any)[0] != issuer {
		t.Fatalf("metadata %v", md)
	}
}
