package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// keyStates lists GET /admin/keys as kid -> state.
func (e *env) keyStates() map[string]string {
	e.t.Helper()
	m := expect(e.t, e.do("GET", "/admin/keys", nil), http.StatusOK)
	list, _ := m["keys"].([]any)
	out := map[string]string{}
	for _, k := range list {
		k := k.(map[string]any)
		out[k["kid"].(string)] = k["state"].(string)
	}
	return out
}

func TestKeysLifecycleOverAdminAPI(t *testing.T) {
	e := newEnv(t)
	first := e.keys.SigningKey().ID
	if got := e.keyStates(); len(got) != 1 || got[first] != "signing" {
		t.Fatalf("keys = %v, want only %s signing", got, first)
	}

	// A rotation publishes first: the new key is pending, the old one signs.
	m := expect(t, e.do("POST", "/admin/keys/rotate", nil), http.StatusOK)
	pending, _ := m["kid"].(string)
	signsFrom, err := time.Parse(time.RFC3339Nano, m["signs_from"].(string))
	if err != nil || m["state"] != "pending" {
		t.Fatalf("rotate answered %v", m)
	}
	if ahead := time.Until(signsFrom); ahead < 5*time.Minute || ahead > 6*time.Minute {
		t.Errorf("new key signs in %v, want publish_ahead (6m)", ahead)
	}
	if e.keys.SigningKey().ID != first {
		t.Error("the rotated key signs before publish_ahead has passed")
	}

	// Neither the signing key nor one that has not signed may be retired.
	expectError(t, e.do("POST", "/admin/keys/"+first+"/retire", nil), http.StatusConflict, "conflict", "")
	expectError(t, e.do("POST", "/admin/keys/"+pending+"/retire", nil), http.StatusConflict, "conflict", "")
	expectError(t, e.do("POST", "/admin/keys/nosuchkid/retire", nil), http.StatusNotFound, "not_found", "")
	expectError(t, e.do("POST", "/admin/keys/rotate", `{"now":"yes"}`), http.StatusBadRequest, "invalid_request", "")
	expectError(t, e.do("POST", "/admin/keys/rotate", `{"at_once":true}`), http.StatusBadRequest, "invalid_request", "")

	// An emergency rotation signs at once; the keys it supersedes retire.
	m = expect(t, e.do("POST", "/admin/keys/rotate", map[string]bool{"now": true}), http.StatusOK)
	emergency, _ := m["kid"].(string)
	if m["state"] != "signing" || e.keys.SigningKey().ID != emergency {
		t.Fatalf("rotate now answered %v; signing kid %s", m, e.keys.SigningKey().ID)
	}
	states := e.keyStates()
	if states[first] != "retiring" || states[pending] != "retiring" || states[emergency] != "signing" {
		t.Errorf("after the emergency rotation: %v", states)
	}

	// Retiring a key that is retiring already keeps its time.
	m = expect(t, e.do("POST", "/admin/keys/"+first+"/retire", nil), http.StatusOK)
	retiresAt, err := time.Parse(time.RFC3339Nano, m["retires_at"].(string))
	if err != nil {
		t.Fatalf("retire answered %v", m)
	}
	// 15m tokens + 2m margin after the emergency key began to sign.
	if d := time.Until(retiresAt); d < 16*time.Minute || d > 17*time.Minute {
		t.Errorf("old key retires in %v, want about 17m", d)
	}
	for _, action := range []string{`"action":"keys.rotate"`, `"action":"keys.retire"`, `"now":true`} {
		if !strings.Contains(e.audit.String(), action) {
			t.Errorf("audit log lacks %s", action)
		}
	}
}
