package app_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"authserver/config"
)

// syncBuffer collects a node's log; the node writes from its own
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// events returns the audit records of the log.
func (b *syncBuffer) events(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// The audit log records each security event once, with the request id,
// client id and user id, and never a secret, password or token: the test
// drives every event through real requests and then greps the whole log for
// every credential it used.
func TestAuditLog(t *testing.T) {
	var logBuf syncBuffer
	n := startNodeLog(t, func(c *config.Config) {
		c.Limits.PasswordFailuresPerUser = 2
		c.Limits.ClientAuthFailures = 3
	}, slog.New(slog.NewJSONHandler(&logBuf, nil)))

	app := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"},
	})
	appID, appSecret := app["id"].(string), app["client_secret"].(string)
	const password, wrongPassword = "kim's long password", "kim's wrong password"
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "kim", "password": password})
	secrets := []string{appSecret, password, wrongPassword, n.app.AdminToken}

	tokenCall := func(form url.Values, id, secret, rid string) (int, map[string]any) {
		t.Helper()
		return formCall(t, n.base+"/token", form, id, secret, rid)
	}
	refreshForm := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	}

	// Failed client authentication: a wrong secret, and a secret sent as
	// the client id (which must not end up in the log as one).
	wrongSecret := "Qm9ndXNTZWNyZXRCb2d1c1NlY3JldEJvZ3VzU2VjcmV0"
	secrets = append(secrets, wrongSecret)
	tokenCall(url.Values{"grant_type": {"password"}}, appID, wrongSecret, "rid-auth-failed")
	tokenCall(url.Values{"grant_type": {"password"}}, appSecret, appID, "rid-swapped")
	// Three failures reach the client's limit: the next failure is a lockout.
	for range 2 {
		tokenCall(url.Values{"grant_type": {"password"}}, appID, wrongSecret, "")
	}
	tokenCall(url.Values{"grant_type": {"password"}}, appID, wrongSecret, "rid-client-lockout")

	// Wrong passwords until the user's counter locks.
	for range 2 {
		tokenCall(url.Values{"grant_type": {"password"}, "username": {"kim"}, "password": {wrongPassword}}, appID, appSecret, "")
	}
	code, _ := tokenCall(url.Values{"grant_type": {"password"}, "username": {"kim"}, "password": {wrongPassword}}, appID, appSecret, "rid-user-lockout")
	if code != http.StatusTooManyRequests {
		t.Fatalf("no lockout: %d", code)
	}

	// Refresh reuse. kim is locked out of the password grant, so lee
	// signs in.
	lee := n.admin(t, "POST", "/admin/users", map[string]any{"username": "lee", "password": password})["id"].(string)
	leeIn := func(rid string) (string, string) {
		t.Helper()
		code, body := tokenCall(url.Values{"grant_type": {"password"}, "username": {"lee"}, "password": {password}}, appID, appSecret, rid)
		if code != http.StatusOK {
			t.Fatalf("sign in: %d %v", code, body)
		}
		a, r := body["access_token"].(string), body["refresh_token"].(string)
		secrets = append(secrets, a, r, r[strings.IndexByte(r, '.')+1:])
		return a, r
	}
	_, r1 := leeIn("")
	_, body := tokenCall(refreshForm(r1), appID, appSecret, "")
	r2 := body["refresh_token"].(string)
	secrets = append(secrets, body["access_token"].(string), r2)
	_, body = tokenCall(refreshForm(r2), appID, appSecret, "")
	secrets = append(secrets, body["access_token"].(string), body["refresh_token"].(string))
	// r2 again, its successor unused: a retry. r1, whose successor r2 was
	// used: reuse.
	tokenCall(refreshForm(r2), appID, appSecret, "rid-retry")
	tokenCall(refreshForm(r1), appID, appSecret, "rid-reuse")

	// Revocation at /revoke: a refresh token, then an access token.
	_, rRevoke := leeIn("")
	formCall(t, n.base+"/revoke", url.Values{"token": {rRevoke}}, appID, appSecret, "rid-revoke-refresh")
	a3, _ := leeIn("")
	formCall(t, n.base+"/revoke", url.Values{"token": {a3}}, appID, appSecret, "rid-revoke-access")

	// Admin: a secret rotation (the new secret is in the answer, never in
	// the log) and sign out everywhere.
	leeIn("")
	rot := n.admin(t, "POST", "/admin/clients/"+appID+"/secret", map[string]any{"overlap": "1h"})
	secrets = append(secrets, rot["client_secret"].(string))
	n.admin(t, "DELETE", "/admin/users/"+lee+"/families", nil)

	// An admin call with a wrong token.
	req, _ := http.NewRequest("GET", n.adminURL+"/admin/clients", nil)
	req.Header.Set("Authorization", "Bearer not-the-admin-token-"+appSecret)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	log := logBuf.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Errorf("the log contains a secret or token %.12s...", s)
		}
	}

	events := logBuf.events(t)
	byRequest := func(rid, event string) []map[string]any {
		var out []map[string]any
		for _, e := range events {
			if e["request_id"] == rid && e["event"] == event {
				out = append(out, e)
			}
		}
		return out
	}
	once := func(rid, event string, want map[string]any) {
		t.Helper()
		got := byRequest(rid, event)
		if len(got) != 1 {
			t.Errorf("%s: %d %s events, want 1", rid, len(got), event)
			return
		}
		for k, v := range want {
			if got[0][k] != v {
				t.Errorf("%s %s: %s = %v, want %v (%v)", rid, event, k, got[0][k], v, got[0])
			}
		}
	}
	once("rid-auth-failed", "client_auth_failed", map[string]any{"client_id": appID, "level": "WARN"})
	once("rid-swapped", "client_auth_failed", map[string]any{"client_id_malformed": true})
	once("rid-client-lockout", "lockout", map[string]any{"client_id": appID, "limit": "client_auth"})
	once("rid-user-lockout", "lockout", map[string]any{"client_id": appID, "username": "kim", "limit": "password_per_user_ip"})
	once("rid-retry", "refresh_retried", map[string]any{"client_id": appID, "user_id": lee, "level": "INFO"})
	once("rid-reuse", "refresh_reuse_detected", map[string]any{"client_id": appID, "user_id": lee})
	once("rid-reuse", "family_revoked", map[string]any{"client_id": appID, "user_id": lee, "reason": "refresh_reuse_detected"})
	once("rid-revoke-refresh", "family_revoked", map[string]any{"client_id": appID, "user_id": lee, "reason": "revoked_by_client"})
	once("rid-revoke-access", "access_token_revoked", map[string]any{"client_id": appID, "user_id": lee})

	count := map[string]int{}
	for _, e := range events {
		count[e["event"].(string)]++
		if e["request_id"] == nil || e["request_id"] == "" {
			t.Errorf("event without a request id: %v", e)
		}
		if e["event"] == "admin_action" && e["action"] == "users.sign_out" && (e["user_id"] != lee || e["families_revoked"] != float64(2)) {
			t.Errorf("sign-out event %v", e)
		}
		if e["event"] == "admin_action" && e["action"] == "clients.rotate_secret" && e["client_id"] != appID {
			t.Errorf("rotation event %v", e)
		}
	}
	for _, ev := range []string{"admin_action", "admin_auth_failed", "family_revoked"} {
		if count[ev] == 0 {
			t.Errorf("no %s event:\n%s", ev, log)
		}
	}
	// Revoked families: one by reuse, one at /revoke, and the two lee was
	// still signed in with by sign out everywhere.
	if count["family_revoked"] != 4 {
		t.Errorf("%d family_revoked events, want 4", count["family_revoked"])
	}
}
