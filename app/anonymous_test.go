package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"authserver/config"
)

func register(t *testing.T, n *node, md map[string]any) (*http.Response, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(md)
	resp, err := http.Post(n.base+"/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func publicMetadata() map[string]any {
	return map[string]any{
		"client_name": "MCP client", "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"redirect_uris": []string{"http://127.0.0.1:33418/callback"},
	}
}

// registration.anonymous over HTTP: public clients register without a
// token, others are refused with RFC 7591 errors, and the address's
// quota ends in 429 with Retry-After.
func TestAnonymousRegistrationOverHTTP(t *testing.T) {
	closed := startNode(t, nil)
	if resp, _ := register(t, closed, publicMetadata()); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous registration is off by default: %d", resp.StatusCode)
	}

	n := startNode(t, func(c *config.Config) {
		c.Registration.Anonymous, c.Registration.AnonymousPerIPPerHour = true, 3
	})
	confidential := publicMetadata()
	confidential["token_endpoint_auth_method"] = "client_secret_basic"
	if resp, b := register(t, n, confidential); resp.StatusCode != http.StatusBadRequest || b["error"] != "invalid_client_metadata" {
		t.Fatalf("confidential: %d %v", resp.StatusCode, b)
	}
	web := publicMetadata()
	web["redirect_uris"] = []string{"http://app.example/cb"}
	if resp, b := register(t, n, web); resp.StatusCode != http.StatusBadRequest || b["error"] != "invalid_redirect_uri" {
		t.Fatalf("http redirect: %d %v", resp.StatusCode, b)
	}
	for i := range 3 {
		resp, b := register(t, n, publicMetadata())
		if resp.StatusCode != http.StatusCreated || b["client_secret"] != nil || b["token_endpoint_auth_method"] != "none" {
			t.Fatalf("registration %d: %d %v", i+1, resp.StatusCode, b)
		}
	}
	resp, b := register(t, n, publicMetadata())
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || b["error"] == nil {
		t.Fatalf("over the quota: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}
