package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"authserver/audit"
	"authserver/config"
	"authserver/store/redistest"
)

// logLines decodes every line of a JSON log.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// rawCall is one request that may fail on the server's side; it returns
// the status.
func rawCall(t *testing.T, method, u, rid, contentType, body, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("X-Request-ID", rid)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-ID"); got != rid {
		t.Errorf("%s %s: X-Request-ID %q, want %q", method, u, got, rid)
	}
	return resp.StatusCode
}

// requestPathFailures are the messages the request handlers log when the
// store fails under them.
var requestPathFailures = map[string]bool{
	"token endpoint failure": true, "authorization endpoint failure": true,
	"admin action failed": true, "registration request failed": true,
	"token endpoint: store unavailable": true, "authorization endpoint: store unavailable": true,
	"admin action failed: store unavailable": true, "registration: store unavailable": true,
}

// storeFailureLogs breaks the store under a running node (breakStore) and
// sends one request to each kind of endpoint, each with its own
// X-Request-ID: every line the handlers log about the failure carries the
// id of the request it belongs to, whichever package wrote it. Each
// request must answer want: 503 for an outage, 500 for any other failure.
func storeFailureLogs(t *testing.T, tweak func(*config.Config), breakStore func(*node), want int) string {
	var logBuf syncBuffer
	n := startNodeLog(t, func(c *config.Config) { c.Registration.Open = true; tweak(c) }, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	// Clients made but never used: the first lookup of each goes to the
	// store, not the client cache.
	m2m := n.admin(t, "POST", "/admin/clients", map[string]any{"name": "m2m", "grant_types": []string{"client_credentials"}})
	web := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "web", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://127.0.0.1/cb"},
	})
	breakStore(n)

	basic := url.Values{"client_id": {m2m["id"].(string)}, "client_secret": {m2m["client_secret"].(string)}}
	form := "application/x-www-form-urlencoded"
	q := url.Values{"client_id": {web["id"].(string)}, "redirect_uri": {"http://127.0.0.1/cb"}, "response_type": {"code"}}
	calls := map[string]func() int{
		"rid-token": func() int {
			return rawCall(t, "POST", n.base+"/token", "rid-token", form, "grant_type=client_credentials&"+basic.Encode(), "")
		},
		"rid-revoke": func() int {
			return rawCall(t, "POST", n.base+"/revoke", "rid-revoke", form, "token=x&"+basic.Encode(), "")
		},
		"rid-authorize": func() int { return rawCall(t, "GET", n.base+"/authorize?"+q.Encode(), "rid-authorize", "", "", "") },
		"rid-admin": func() int {
			return rawCall(t, "GET", n.adminURL+"/admin/clients", "rid-admin", "", "", n.app.AdminToken)
		},
		"rid-register": func() int {
			return rawCall(t, "POST", n.base+"/register", "rid-register", "application/json", `{"grant_types":["client_credentials"]}`, "")
		},
	}
	for rid, call := range calls {
		if code := call(); code != want {
			t.Errorf("%s: %d, want %d from the broken store", rid, code, want)
		}
	}

	log := logBuf.String()
	lines := logLines(t, log)
	perRequest := map[string]int{}
	for _, l := range lines {
		rid, _ := l["request_id"].(string)
		if requestPathFailures[l["msg"].(string)] && calls[rid] == nil {
			t.Errorf("a failure logged without its request's id: %v", l)
		}
		if calls[rid] != nil && l["msg"] != "audit" {
			perRequest[rid]++
		}
	}
	for rid := range calls {
		if perRequest[rid] == 0 {
			t.Errorf("%s: no log line carries its id:\n%s", rid, log)
		}
	}
	return log
}

func TestStoreFailureLogsCarryRequestIDEmbedded(t *testing.T) {
	// A closed file is an outage: 503.
	log := storeFailureLogs(t, func(*config.Config) {}, func(n *node) { n.app.Store.Close() }, http.StatusServiceUnavailable)
	// The embedded store has no background traffic: every error line is
	// one of the requests'.
	for _, l := range logLines(t, log) {
		if rid, _ := l["request_id"].(string); l["level"] == "ERROR" && !strings.HasPrefix(rid, "rid-") {
			t.Errorf("an error line without a request id: %v", l)
		}
	}
}

func TestStoreFailureLogsCarryRequestIDRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	storeFailureLogs(t, func(c *config.Config) { c.Redis.URL = r.URL() }, func(*node) {
		// Every command of the node's user is refused from now on: failures
		// at once, where a killed server would cost retries and backoff.
		// NOPERM is no outage but a fault: 500.
		if err := r.Client(t).Do(context.Background(), "ACL", "SETUSER", "default", "-@all").Err(); err != nil {
			t.Fatal(err)
		}
	}, http.StatusInternalServerError)
}

// go-redis's own log lines join the server's JSON log (and carry the
// request id of the context they were logged with).
func TestGoRedisLogsAsJSON(t *testing.T) {
	r := redistest.StartStandalone(t)
	var logBuf syncBuffer
	startNodeLog(t, func(c *config.Config) { c.Redis.URL = r.URL() }, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	// go-redis logs a TTL below its 1 ms resolution before truncating it.
	ctx := audit.WithRequestID(context.Background(), "rid-go-redis")
	if err := r.Client(t).Set(ctx, "go-redis-log-test", "v", 500*time.Microsecond).Err(); err != nil {
		t.Fatal(err)
	}
	for _, l := range logLines(t, logBuf.String()) {
		if l["component"] == "go-redis" && strings.Contains(l["msg"].(string), "truncating to 1ms") {
			if l["request_id"] != "rid-go-redis" || l["level"] != "WARN" {
				t.Errorf("go-redis line %v", l)
			}
			return
		}
	}
	t.Fatalf("no go-redis line in the JSON log:\n%s", logBuf.String())
}
