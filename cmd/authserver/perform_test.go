package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
