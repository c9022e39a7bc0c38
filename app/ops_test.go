package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"authserver/app"
	"authserver/config"
)

// records returns the log's records with msg.
func records(t *testing.T, log string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range logLines(t, log) {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// The node says which binary it is when it starts, and when it begins and
// ends draining at shutdown.
func TestLifecycleLog(t *testing.T) {
	var logBuf syncBuffer
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	pub, _ := net.Listen("tcp", "127.0.0.1:0")
	adm, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, pub, adm) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logBuf.String(), `"msg":"serving"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	log := logBuf.String()
	serving := records(t, log, "serving")
	if len(serving) != 1 || serving[0]["go_version"] != runtime.Version() || serving[0]["version"] == nil {
		t.Errorf("serving records %v, want one with version and go_version %s", serving, runtime.Version())
	}
	drain, down := strings.Index(log, `"msg":"shutting down: draining connections"`), strings.Index(log, `"msg":"shut down"`)
	if drain < 0 || down < drain {
		t.Errorf("want a draining record, then a shut down one:\n%s", log)
	}
}

// log_level drops the records below it.
func TestLogLevel(t *testing.T) {
	for level, want := range map[string][]string{
		"debug": {"d", "i", "w", "e"}, "info": {"i", "w", "e"}, "warn": {"w", "e"}, "error": {"e"},
	} {
		var buf bytes.Buffer
		cfg := config.Default()
		cfg.LogLevel = level
		log := app.NewLogger(&buf, cfg)
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		log.Error("e")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			got = append(got, m["msg"].(string))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("log_level %s: logged %v, want %v", level, got, want)
		}
	}
}

// The access log has one record per request on either listener, with the
// route pattern, never the path's IDs, the query string or a credential.
func TestAccessLog(t *testing.T) {
	var logBuf syncBuffer
	n := startNodeLog(t, func(c *config.Config) { c.AccessLog = true }, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	do := func(method, url, user, pass string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader("grant_type=client_credentials&client_secret=body-secret"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		} else {
			req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	r1 := do("GET", n.adminURL+"/admin/clients/client-id-in-path?q=query-secret", "", "")
	r2 := do("POST", n.base+"/token?x=query-secret", "basic-user", "basic-secret")
	r3 := do("GET", n.base+"/no/such/path-secret", "basic-user", "basic-secret")
	r4 := do("FROB", n.base+"/token", "basic-user", "basic-secret")
	// The record is written after the answer went out.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logBuf.String(), `"msg":"access"`) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	log := logBuf.String()
	for _, secret := range []string{"client-id-in-path", "query-secret", "basic-user", "basic-secret", "body-secret", "path-secret", n.app.AdminToken} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q:\n%s", secret, log)
		}
	}
	got := records(t, log, "access")
	want := []struct {
		listener, method, route string
		resp                    *http.Response
	}{
		{"admin", "GET", "/admin/clients/:id", r1},
		{"public", "POST", "/token", r2},
		{"public", "GET", "unmatched", r3},
		{"public", "OTHER", "unmatched", r4},
	}
	if len(got) != len(want) {
		t.Fatalf("%d access records, want %d:\n%s", len(got), len(want), log)
	}
	for i, w := range want {
		g := got[i]
		if g["listener"] != w.listener || g["method"] != w.method || g["route"] != w.route ||
			g["status"] != float64(w.resp.StatusCode) || g["request_id"] != w.resp.Header.Get("X-Request-ID") || g["request_id"] == "" {
			t.Errorf("record %d = %v, want %s %s %s %d request_id %s", i, g, w.listener, w.method, w.route, w.resp.StatusCode, w.resp.Header.Get("X-Request-ID"))
		}
		if _, ok := g["duration_ms"].(float64); !ok {
			t.Errorf("record %d has no duration_ms: %v", i, g)
		}
	}
}

// Off by default: no access records.
func TestNoAccessLogByDefault(t *testing.T) {
	var logBuf syncBuffer
	n := startNodeLog(t, nil, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	resp, err := http.Get(n.base + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(logBuf.String(), `"msg":"access"`) {
		t.Errorf("access records without access_log:\n%s", logBuf.String())
	}
}
