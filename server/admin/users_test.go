package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUserProfile: POST /admin/users takes the profile claims, GET shows
// them, PATCH .../profile changes some and removes others (null), moves
// updated_at on and keeps the ID; bad values are 400 naming the claim; the
// audit log names the claims changed but never their values.
func TestUserProfile(t *testing.T) {
	e := newEnv(t)
	created := expect(t, e.do("POST", "/admin/users", map[string]any{
		"username": "alice", "password": "correct horse battery",
		"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true,
		"picture": "https://example.com/alice.png", "address": map[string]string{"locality": "Oxford"},
	}), http.StatusCreated)
	id := created["id"].(string)
	got := expect(t, e.do("GET", "/admin/users/"+id, nil), http.StatusOK)
	if got["name"] != "Alice Liddell" || got["email"] != "alice@example.com" || got["email_verified"] != true ||
		got["picture"] != "https://example.com/alice.png" || got["address"].(map[string]any)["locality"] != "Oxford" {
		t.Fatalf("GET after create: %v", got)
	}
	if _, ok := got["phone_number"]; ok {
		t.Fatalf("an unset claim is shown: %v", got)
	}

	time.Sleep(2 * time.Millisecond) // updated_at must visibly move
	patched := expect(t, e.do("PATCH", "/admin/users/"+id+"/profile", map[string]any{
		"email": "liddell@example.org", "picture": nil, "locale": "en-GB",
	}), http.StatusOK)
	if patched["id"] != id || patched["email"] != "liddell@example.org" || patched["email_verified"] != true ||
		patched["name"] != "Alice Liddell" || patched["locale"] != "en-GB" || patched["picture"] != nil {
		t.Fatalf("after PATCH: %v", patched)
	}
	before, _ := time.Parse(time.RFC3339Nano, created["updated_at"].(string))
	after, _ := time.Parse(time.RFC3339Nano, patched["updated_at"].(string))
	if !after.After(before) {
		t.Fatalf("updated_at %v did not move on from %v", after, before)
	}
	if got := expect(t, e.do("GET", "/admin/users/"+id, nil), http.StatusOK); got["email"] != "liddell@example.org" || got["picture"] != nil {
		t.Fatalf("PATCH not stored: %v", got)
	}

	expectError(t, e.do("PATCH", "/admin/users/"+id+"/profile", map[string]any{"website": "ftp://x"}), http.StatusBadRequest, "invalid_request", "website")
	expectError(t, e.do("PATCH", "/admin/users/"+id+"/profile", map[string]any{"username": "mallory"}), http.StatusBadRequest, "invalid_request", "")
	expectError(t, e.do("PATCH", "/admin/users/"+id+"/profile", map[string]any{"email": 7}), http.StatusBadRequest, "invalid_request", "")
	expectError(t, e.do("PATCH", "/admin/users/nope/profile", map[string]any{"name": "x"}), http.StatusNotFound, "not_found", "")
	expectError(t, e.do("POST", "/admin/users", map[string]any{"username": "bob", "password": "correct horse battery", "email": "bob"}),
		http.StatusBadRequest, "invalid_request", "email")
	if list := expect(t, e.do("GET", "/admin/users?username=bob", nil), http.StatusOK); len(list["users"].([]any)) != 0 {
		t.Fatalf("a user with a bad profile was created: %v", list)
	}

	log := e.audit.String()
	if !strings.Contains(log, `"action":"users.update_profile"`) || !strings.Contains(log, `"claims":["email","locale","picture"]`) {
		t.Errorf("audit log lacks the profile change: %s", log)
	}
	for _, secret := range []string{"liddell@example.org", "alice@example.com", "Alice Liddell"} {
		if strings.Contains(log, secret) {
			t.Errorf("audit log holds the profile value %q", secret)
		}
	}
}
