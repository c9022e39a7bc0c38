package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// perform prints the token response as the server sent it; x/oauth2's
// Token alone would say expires_in 0.
func TestPerformPrintsServerResponse(t *testing.T) {
	var gotGrant string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		gotGrant = r.PostForm.Get("grant_type")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":900,"refresh_token":"rt","scope":"profile"}`))
	}))
	defer srv.Close()
	for flow, grant := range map[string]string{"client-credentials": "client_credentials", "password": "password", "refresh": "refresh_token"} {
		var out, errb bytes.Buffer
		code := runPerform([]string{flow, "--issuer", srv.URL, "--client-id", "c", "--client-secret", "s",
			"--username", "u", "--password", "p", "--refresh-token", "old"}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", flow, code, errb.String())
		}
		if gotGrant != grant {
			t.Errorf("%s: server saw grant_type %q", flow, gotGrant)
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", flow, err, out.String())
		}
		want := map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 900.0, "refresh_token": "rt", "scope": "profile"}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v (all: %s)", flow, k, m[k], v, out.String())
			}
		}
	}
}

// --fields prints bare values for shell captures, and fails on a field the
// answer lacks rather than capturing nothing.
func TestFields(t *testing.T) {
	var out bytes.Buffer
	if err := printFields(&out, []byte(`{"id":"abc","client_secret":"s-3","n":900,"l":["a"]}`), "id,client_secret,n,l"); err != nil || out.String() != "abc\ts-3\t900\t[\"a\"]\n" {
		t.Errorf("got %q, %v", out.String(), err)
	}
	if err := printFields(&out, []byte(`{"id":"abc"}`), "id,secret"); err == nil || !strings.Contains(err.Error(), `no field "secret"`) {
		t.Errorf("missing field: %v", err)
	}
	s := newAdminServer(t)
	r := run1(runClients, "", withConn(s, "create", "--name", "billing", "--grant-types", "client_credentials", "--fields", "id,client_secret")...).ok(t)
	id, secret, ok := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), "\t")
	if !ok || len(id) != 32 || secret == "" || strings.ContainsAny(secret, "\t\n") {
		t.Fatalf("clients create --fields: %q", r.stdout)
	}
	if _, err := s.clients.Authenticate(context.Background(), id, secret); err != nil {
		t.Errorf("the printed id and secret do not authenticate: %v", err)
	}
}
