package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"authserver/config"
	"authserver/store/redistest"
)

// hostile is request text that RFC 6749's error_description may not carry:
// markup, a backslash and a non-ASCII letter.
const hostile = `<b>x\é`

// descriptionOK is the RFC 6749 §4.1.2.1 / §5.2 character set:
// %x20-21 / %x23-5B / %x5D-7E.
func descriptionOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == 0x20 || c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e) {
			return false
		}
	}
	return true
}

// checkDescription fails the test when an error answer's description is
// missing, outside the character set, or echoes the hostile text.
func checkDescription(t *testing.T, what, wantCode string, got url.Values) {
	t.Helper()
	d := got.Get("error_description")
	if got.Get("error") != wantCode || d == "" {
		t.Errorf("%s: error %q (%q), want %s", what, got.Get("error"), d, wantCode)
	}
	if !descriptionOK(d) || strings.Contains(d, "<b>x") {
		t.Errorf("%s: error_description %q is outside the RFC 6749 character set or echoes the request", what, d)
	}
}

func values(m map[string]any) url.Values {
	v := url.Values{}
	for k, x := range m {
		if s, ok := x.(string); ok {
			v.Set(k, s)
		}
	}
	return v
}

// Every renderer of error_description keeps it in RFC 6749's character
// set: /token, /revoke, /introspect, /authorize's error redirects and
// /register.
func errorDescriptions(t *testing.T, n *node) {
	repeated := url.Values{"grant_type": {"client_credentials"}, hostile: {"1", "2"}}
	for _, path := range []string{"/token", "/revoke", "/introspect"} {
		code, body := formCall(t, n.base+path, repeated, "", "", "")
		if code != http.StatusBadRequest {
			t.Errorf("%s with a repeated parameter: %d %v", path, code, body)
		}
		checkDescription(t, path+" repeated parameter", "invalid_request", values(body))
	}

	m2m := n.admin(t, "POST", "/admin/clients", map[string]any{"name": "m2m", "grant_types": []string{"client_credentials"}})
	_, body := formCall(t, n.base+"/token", url.Values{"grant_type": {hostile}}, m2m["id"].(string), m2m["client_secret"].(string), "")
	checkDescription(t, "/token unknown grant_type", "unsupported_grant_type", values(body))

	// /authorize: once the client and redirect URI are known good, errors
	// go back to the client in the redirect's query.
	web := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "web", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://127.0.0.1/cb"},
	})
	q := url.Values{"client_id": {web["id"].(string)}, "redirect_uri": {"http://127.0.0.1/cb"}, "response_type": {"code"}, hostile: {"1", "2"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(n.base + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), "http://127.0.0.1/cb?") {
		t.Fatalf("/authorize with a repeated parameter: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	checkDescription(t, "/authorize repeated parameter", "invalid_request", loc.Query())

	// /register (open on this node): request text in each kind of field,
	// and a refusal whose own words quote a value.
	for _, tc := range []struct {
		what, code string
		md         map[string]any
	}{
		{"grant type", "invalid_client_metadata", map[string]any{"grant_types": []string{hostile}}},
		{"auth method", "invalid_client_metadata", map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": hostile}},
		{"response type", "invalid_client_metadata", map[string]any{"response_types": []string{hostile}, "redirect_uris": []string{"https://p.example/cb"}}},
		{"redirect URI", "invalid_redirect_uri", map[string]any{"redirect_uris": []string{"https://p.example/" + hostile + "#" + hostile}}},
		{"relative redirect URI", "invalid_redirect_uri", map[string]any{"redirect_uris": []string{hostile}}},
		{"client URI", "invalid_client_metadata", map[string]any{"grant_types": []string{"client_credentials"}, "client_uri": hostile}},
		{"scope syntax", "invalid_client_metadata", map[string]any{"grant_types": []string{"client_credentials"}, "scope": hostile + ` "q"`}},
		{"unadvertised scope", "invalid_client_metadata", map[string]any{"grant_types": []string{"client_credentials"}, "scope": "admin"}},
	} {
		code, body := partnerCall(t, "POST", n.base+"/register", "", tc.md)
		if code != http.StatusBadRequest {
			t.Errorf("/register %s: %d %v", tc.what, code, body)
		}
		checkDescription(t, "/register "+tc.what, tc.code, values(body))
	}
}

func openRegistration(c *config.Config) { c.Registration.Open = true }

func TestErrorDescriptionCharsetEmbedded(t *testing.T) {
	errorDescriptions(t, startNode(t, openRegistration))
}

func TestErrorDescriptionCharsetRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	errorDescriptions(t, startNode(t, func(c *config.Config) { openRegistration(c); c.Redis.URL = r.URL() }))
}
