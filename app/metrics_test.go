package app_test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"authserver/config"
	"authserver/store/redistest"
)

// scrape reads the admin listener's /metrics, without the admin token, as
// series -> value.
func scrape(t *testing.T, n *node) map[string]float64 {
	t.Helper()
	resp, err := http.Get(n.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics on the admin listener: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// postForm posts a token-endpoint form with HTTP Basic client credentials.
func postForm(t *testing.T, n *node, id, secret string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", n.base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// tokenJSON is a token request that must succeed (formCall's checks), and
// its answer.
func tokenJSON(t *testing.T, n *node, id, secret string, form url.Values) map[string]any {
	t.Helper()
	status, out := formCall(t, n.base+"/token", form, id, secret, "")
	if status != http.StatusOK {
		t.Fatalf("token %v: %d %v", form, status, out)
	}
	return out
}

// TestMetricsCountExactly: each counter moves by exactly what the node did.
func TestMetricsCountExactly(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.Limits.ClientAuthFailures = 1 })
	svc := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "svc", "grant_types": []string{"client_credentials"}, "scopes": []string{"invoices:read"},
	})
	mob := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"},
	})
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	svcID, svcSecret := svc["id"].(string), svc["client_secret"].(string)
	mobID, mobSecret := mob["id"].(string), mob["client_secret"].(string)
	rt := tokenJSON(t, n, mobID, mobSecret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice's long password"}})["refresh_token"].(string)

	before := scrape(t, n)
	tokenJSON(t, n, svcID, svcSecret, url.Values{"grant_type": {"client_credentials"}})
	tokenJSON(t, n, mobID, mobSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	// One failure is allowed; the second is refused as a lockout.
	if r := postForm(t, n, svcID, "wrong", url.Values{"grant_type": {"client_credentials"}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", r.StatusCode)
	}
	if r := postForm(t, n, svcID, "wrong", url.Values{"grant_type": {"client_credentials"}}); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second wrong secret: %d, want a lockout", r.StatusCode)
	}
	after := scrape(t, n)

	for series, want := range map[string]float64{
		`authserver_tokens_issued_total{grant_type="client_credentials"}`:                  1,
		`authserver_tokens_issued_total{grant_type="refresh_token"}`:                       1,
		`authserver_tokens_issued_total{grant_type="password"}`:                            0,
		`authserver_refresh_rotations_total`:                                               1,
		`authserver_client_auth_failures_total`:                                            2,
		`authserver_lockouts_total{limit="client_auth"}`:                                   1,
		`authserver_audit_events_total{event="lockout"}`:                                   1,
		`authserver_refresh_reuse_detected_total`:                                          0,
		`authserver_http_requests_total{code="200",listener="public",route="/token"}`:      2,
		`authserver_http_requests_total{code="401",listener="public",route="/token"}`:      1,
		`authserver_http_requests_total{code="429",listener="public",route="/token"}`:      1,
		`authserver_http_request_duration_seconds_count{listener="public",route="/token"}`: 4,
	} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	if after[`authserver_store_operation_duration_seconds_count{backend="embedded",op="view"}`] <= before[`authserver_store_operation_duration_seconds_count{backend="embedded",op="view"}`] {
		t.Error("embedded store reads were not timed")
	}
	if after["authserver_signing_key_age_seconds"] <= 0 {
		t.Errorf("signing key age %v, want > 0", after["authserver_signing_key_age_seconds"])
	}
	var build bool
	for s, v := range after {
		build = build || (strings.HasPrefix(s, "authserver_build_info{") && strings.Contains(s, `go_version="go`) && v == 1)
	}
	if !build {
		t.Error("no authserver_build_info with a go_version")
	}
}

// TestMetricsOnlyOnAdmin: /metrics is not served on the public listener.
func TestMetricsOnlyOnAdmin(t *testing.T) {
	n := startNode(t, nil)
	resp, err := http.Get(n.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public listener: %d, want 404", resp.StatusCode)
	}
	scrape(t, n) // and served on the admin listener without the token
}

// TestMetricsCardinality: unknown paths and client ids add no series.
func TestMetricsCardinality(t *testing.T) {
	n := startNode(t, nil)
	random := func() string { b := make([]byte, 8); rand.Read(b); return hex.EncodeToString(b) }
	hit := func(paths, clients int) {
		for range paths {
			for _, base := range []string{n.base, n.adminURL} {
				resp, err := http.Get(base + "/" + random())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}
		for range clients {
			postForm(t, n, "c"+random(), "wrong", url.Values{"grant_type": {"client_credentials"}})
		}
	}
	series := func() map[string]bool {
		out := map[string]bool{}
		for s := range scrape(t, n) {
			if strings.HasPrefix(s, "authserver_") {
				out[s] = true
			}
		}
		return out
	}
	hit(1, 1) // every kind of outcome once
	series()  // the scrape itself is a request, counted after it answers
	before := series()
	hit(100, 50)
	after := series()
	for s := range after {
		if !before[s] {
			t.Errorf("new series after 100 unknown paths and 50 client ids: %s", s)
		}
	}
	if len(after) != len(before) {
		t.Errorf("authserver_ series: %d before, %d after", len(before), len(after))
	}
}

// TestMetricsRedisStore: Redis commands are timed by command name.
func TestMetricsRedisStore(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	var found bool
	for s, v := range scrape(t, n) {
		found = found || (strings.HasPrefix(s, `authserver_store_operation_duration_seconds_count{backend="redis"`) && v > 0)
	}
	if !found {
		t.Fatal("no Redis store operation was timed")
	}
}

// TestMetricsDeployFiles: the dashboard and the alert rules parse, and
// every authserver_ metric they query is one a running node exposes.
func TestMetricsDeployFiles(t *testing.T) {
	r := redistest.StartStandalone(t) // store metrics are Redis commands
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	// Request series exist once a request was answered.
	var raw []byte
	resp, err := http.Get(n.base + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	exposed := map[string]bool{}
	for s := range scrape(t, n) {
		name, _, _ := strings.Cut(s, "{")
		exposed[name] = true
	}

	raw, err = os.ReadFile("../deploy/grafana/authserver.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana dashboard: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}

	f, err := os.Open("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alert rules: %v", err)
	}
	alerts := 0
	var targetDown bool
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alert rule %+v lacks a name or an expression", r)
			}
			targetDown = targetDown || strings.Contains(r.Expr, "up{")
			exprs = append(exprs, r.Expr)
		}
	}
	if len(dash.Panels) == 0 || alerts == 0 || !targetDown {
		t.Fatalf("%d panels, %d alerts, target-down rule %v", len(dash.Panels), alerts, targetDown)
	}

	referenced := 0
	for _, e := range exprs {
		for _, name := range metricNameRe.FindAllString(e, -1) {
			referenced++
			if !exposed[name] {
				t.Errorf("%s, queried by %q, is not in /metrics", name, e)
			}
		}
	}
	if referenced == 0 {
		t.Fatal("no authserver_ metric referenced")
	}
}

var metricNameRe = regexp.MustCompile(`\bauthserver_[a-z0-9_]+`)

// TestMetricsRedisOutage: a Redis that is gone shows as store outages and
// 503s at /token, and /metrics still answers.
func TestMetricsRedisOutage(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	cl := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"},
	})
	before := scrape(t, n)
	r.Kill()
	resp := postForm(t, n, cl["id"].(string), cl["client_secret"].(string), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("refresh with Redis down: %d", resp.StatusCode)
	}
	after := scrape(t, n)
	const outages = `authserver_store_unavailable_total{backend="redis"}`
	if after[outages] <= before[outages] {
		t.Errorf("%s did not move (%v)", outages, after[outages])
	}
	const unavailable = `authserver_http_requests_total{code="503",listener="public",route="/token"}`
	if got := after[unavailable] - before[unavailable]; got != 1 {
		t.Errorf("%s moved by %v, want 1", unavailable, got)
	}
}
