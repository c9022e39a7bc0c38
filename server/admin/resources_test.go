package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAdminResources(t *testing.T) {
	e := newEnv(t)
	const uri = "https://photos.example/api/"
	m := expect(t, e.do(http.MethodPost, "/admin/resources", map[string]any{
		"uri": uri, "name": "Photos API", "scopes": []string{"photos:read", "photos:write"}, "access_token_ttl": "10m",
	}), http.StatusCreated)
	if m["uri"] != uri || m["name"] != "Photos API" || m["access_token_ttl"] != "10m0s" || m["created_at"] == nil {
		t.Fatalf("created %v", m)
	}
	if !strings.Contains(e.audit.String(), `"action":"resources.create"`) {
		t.Fatalf("no audit record: %s", e.audit)
	}
	expectError(t, e.do(http.MethodPost, "/admin/resources", map[string]any{"uri": uri, "name": "again", "scopes": []string{"x"}}), http.StatusConflict, "conflict", "")
	expect(t, e.do(http.MethodPost, "/admin/resources", map[string]any{"uri": "http://127.0.0.1:9000/", "name": "Local", "scopes": []string{"x"}}), http.StatusCreated)

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"uri": "/relative", "name": "n", "scopes": []string{"x"}}, "uri"},
		{map[string]any{"uri": "https://a.example/#f", "name": "n", "scopes": []string{"x"}}, "uri"},
		{map[string]any{"uri": "http://a.example/", "name": "n", "scopes": []string{"x"}}, "uri"},
		{map[string]any{"uri": "https://a.example/", "name": "", "scopes": []string{"x"}}, "name"},
		{map[string]any{"uri": "https://a.example/", "name": "n"}, "scopes"},
		{map[string]any{"uri": "https://a.example/", "name": "n", "scopes": []string{"x"}, "access_token_ttl": "soon"}, "access_token_ttl"},
		{map[string]any{"uri": "https://a.example/", "name": "n", "scopes": []string{"x"}, "access_token_ttl": "-1m"}, "access_token_ttl"},
	} {
		expectError(t, e.do(http.MethodPost, "/admin/resources", tc.body), http.StatusBadRequest, "invalid_request", tc.field)
	}
	expectError(t, e.do(http.MethodPost, "/admin/resources", `{"uri":"https://a.example/","bogus":1}`), http.StatusBadRequest, "invalid_request", "")

	list := expect(t, e.do(http.MethodGet, "/admin/resources", nil), http.StatusOK)["resources"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["uri"] != "http://127.0.0.1:9000/" {
		t.Fatalf("list %v", list)
	}
	one := expect(t, e.do(http.MethodGet, "/admin/resources?uri="+url.QueryEscape(uri), nil), http.StatusOK)["resources"].([]any)
	if len(one) != 1 || one[0].(map[string]any)["uri"] != uri {
		t.Fatalf("?uri= lists %v", one)
	}
	if none := expect(t, e.do(http.MethodGet, "/admin/resources?uri="+url.QueryEscape("https://nope.example/"), nil), http.StatusOK)["resources"].([]any); len(none) != 0 {
		t.Fatalf("unknown uri lists %v", none)
	}

	expect(t, e.do(http.MethodDelete, "/admin/resources?uri="+url.QueryEscape(uri), nil), http.StatusNoContent)
	expectError(t, e.do(http.MethodDelete, "/admin/resources?uri="+url.QueryEscape(uri), nil), http.StatusNotFound, "not_found", "")
	expectError(t, e.do(http.MethodDelete, "/admin/resources", nil), http.StatusBadRequest, "invalid_request", "uri")
	if rec := e.doAuth(http.MethodGet, "/admin/resources", nil, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated list: %d", rec.Code)
	}
}
