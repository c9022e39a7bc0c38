package reliability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"authserver/app"
	"authserver/app/apptest"
	"authserver/config"
)

// node is one server in this process, on loopback ports of its own.
type node struct {
	app      *app.App
	base     string
	adminURL string
}

// startNode starts a node configured by tweak and stops it when the test
// ends.
func startNode(t *testing.T, tweak func(*config.Config)) *node {
	t.Helper()
	n := apptest.Start(t, func(cfg *config.Config) {
		cfg.Scopes = []string{"profile"}
		tweak(cfg)
	}, nil)
	return &node{app: n.App, base: n.Base, adminURL: n.AdminURL}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// credentials are a client's id and secret.
type credentials struct{ id, secret string }

// tenant is what the load needs: a client that refreshes on behalf of one
// user, a service client, and one refresh token per chain.
type tenant struct {
	app, service credentials
	tokens       []string
}

// provision creates, through the admin API at adminURL, the clients and
// user, and signs the user in chains times (one family each) at base.
func provision(t *testing.T, base, adminURL, adminToken string, chains int) tenant {
	t.Helper()
	mobile := adminCall(t, adminURL, adminToken, "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"},
	})
	svc := adminCall(t, adminURL, adminToken, "/admin/clients", map[string]any{"name": "api", "grant_types": []string{"client_credentials"}})
	adminCall(t, adminURL, adminToken, "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	tn := tenant{
		app:     credentials{mobile["id"].(string), mobile["client_secret"].(string)},
		service: credentials{svc["id"].(string), svc["client_secret"].(string)},
	}
	for range chains {
		r, err := postForm(http.DefaultClient, base+"/token", url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {"alice's long password"}, "scope": {"profile"},
		}, tn.app)
		rt, _ := r.body["refresh_token"].(string)
		if err != nil || r.status != http.StatusOK || rt == "" {
			t.Fatalf("password grant: %d %v %v", r.status, r.body, err)
		}
		tn.tokens = append(tn.tokens, rt)
	}
	return tn
}

func adminCall(t *testing.T, adminURL, token, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, adminURL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if resp.StatusCode >= 300 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return out
}

// reply is one HTTP answer: status, headers, and the body as JSON (nil
// when it is not JSON).
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

// postForm posts v to u with HTTP Basic client authentication.
func postForm(c *http.Client, u string, v url.Values, cr credentials) (reply, error) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cr.id), url.QueryEscape(cr.secret))
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header}
	if json.Unmarshal(raw, &r.body) != nil {
		r.body = nil
	}
	return r, nil
}

// counters are what a node counted of the refresh state machine's
// outcomes (its /metrics), since it started.
type counters struct {
	reuse     int // families revoked as reuse
	retried   int // retries answered with the same successor
	recovered int // tokens newer than the store's taken as the chain's head
}

func (c counters) plus(o counters) counters {
	return counters{c.reuse + o.reuse, c.retried + o.retried, c.recovered + o.recovered}
}

// countersOf reads the node's counters from the admin listener's /metrics.
// A counter the node does not export reads 0.
func countersOf(t *testing.T, adminURL string) counters {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	values := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.ParseFloat(v, 64); ok && err == nil && !strings.HasPrefix(name, "#") {
			values[name] = int(n)
		}
	}
	if _, ok := values["authserver_refresh_reuse_detected_total"]; !ok {
		t.Fatalf("/metrics has no authserver_refresh_reuse_detected_total")
	}
	return counters{
		reuse:     values["authserver_refresh_reuse_detected_total"],
		retried:   values[`authserver_audit_events_total{event="refresh_retried"}`],
		recovered: values[`authserver_audit_events_total{event="refresh_recovered"}`],
	}
}
