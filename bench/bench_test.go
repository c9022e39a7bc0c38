package bench

import (
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.quantile(c.q)
		if rel := math.Abs(float64(got-c.want)) / float64(c.want); rel > 0.04 {
			t.Errorf("q%.2f = %v, want %v within 4%%", c.q, got, c.want)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose middle is within 1/32 of it.
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 1000, 123456789, 1 << 40, math.MaxInt64} {
		mid := bucketMid(bucketOf(v))
		if v >= subCount && math.Abs(float64(mid)-float64(v))/float64(v) > 1.0/subCount {
			t.Errorf("value %d: bucket middle %d", v, mid)
		}
		if v < subCount && mid != v {
			t.Errorf("small value %d: bucket middle %d", v, mid)
		}
	}
	var a, b histogram
	a.record(time.Millisecond)
	b.record(3 * time.Millisecond)
	a.merge(&b)
	if a.total != 2 || a.quantile(1) < 2900*time.Microsecond {
		t.Errorf("merge: total %d, max quantile %v", a.total, a.quantile(1))
	}
}

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_get:calls=10,usec=9,usec_per_call=0.90,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_evalsha:calls=4,usec=95,usec_per_call=23.75,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=7,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\n"
	got := parseCommandStats(info)
	if got["get"] != 10 || got["evalsha"] != 4 || got["info"] != 7 {
		t.Fatalf("parsed %v", got)
	}
	before := map[string]int64{"get": 4, "info": 2}
	if d := statsDelta(before, got); d != 10 {
		t.Errorf("delta %d, want 10 (get 6 + evalsha 4, info left out)", d)
	}
}

func TestCountMonitorLines(t *testing.T) {
	lines := []string{
		`1700000000.100000 [0 127.0.0.1:51234] "evalsha" "ab12" "1" "authserver:{fam:x}"`,
		`1700000000.100010 [0 lua] "hget" "authserver:{fam:x}" "cur"`,
		`1700000000.100020 [0 lua] "hset" "authserver:{fam:x}" "cur" "y"`,
		`1700000000.200000 [0 127.0.0.1:51235] "GET" "authserver:{client:c}"`,
		`1700000000.300000 [0 unix:/tmp/redis.sock] "evalsha" "cd34" "1" "k"`,
		`garbage`,
	}
	got := countMonitorLines(lines)
	if got["evalsha"] != 2 || got["get"] != 1 || got["hget"] != 0 || len(got) != 2 {
		t.Fatalf("counted %v", got)
	}
	if s := formatCounts(got, 2); s != "evalsha 1, get 0.5" {
		t.Errorf("formatted %q", s)
	}
}

func TestCSRFField(t *testing.T) {
	page := []byte(`<form method="post"><input type="hidden" name="csrf" value="abc-DEF_123"><input name="username">`)
	m := csrfField.FindSubmatch(page)
	if m == nil || string(m[1]) != "abc-DEF_123" {
		t.Fatalf("csrf token not found: %q", m)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := ParseFlags([]string{"--smoke", "--store", "redis", "--scenarios", "jwks, client_credentials"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != time.Second || o.Runs != 1 || !slices.Equal(o.Stores, []string{"redis"}) ||
		!slices.Equal(o.Scenarios, []string{JWKS, ClientCredentials}) {
		t.Errorf("smoke options %+v", o)
	}
	o, err = ParseFlags([]string{"--smoke", "--duration", "3s"}, io.Discard)
	if err != nil || o.Duration != 3*time.Second || len(o.Stores) != 2 || len(o.Scenarios) != len(AllScenarios) {
		t.Errorf("explicit duration beside --smoke: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--store", "mysql"}, {"--scenarios", "implicit"}, {"--alg", "HS256"},
		{"--concurrency", "0"}, {"--target", "http://127.0.0.1:8080"}, {"extra"},
	} {
		if _, err := ParseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestExecutionOrderRunsPasswordLast(t *testing.T) {
	got := executionOrder([]string{ClientCredentials, Password, RefreshToken})
	if !slices.Equal(got, []string{ClientCredentials, RefreshToken, Password}) {
		t.Errorf("order %v", got)
	}
	if got := executionOrder([]string{JWKS}); !slices.Equal(got, []string{JWKS}) {
		t.Errorf("order %v", got)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median %v", m)
	}
}

func TestReportFailsOnAnyError(t *testing.T) {
	ours := &target{name: "ours/redis", store: storeRedis}
	base := &target{name: "go-oauth2", store: storeMemory, peer: PeerGoOAuth2}
	report := func(oc, bc *outcome) bool {
		r := &runner{o: &Options{Scenarios: []string{ClientCredentials}, Runs: 1}, results: map[string]map[string]*outcome{
			ClientCredentials: {ours.name: oc, base.name: bc},
		}}
		return printReport(io.Discard, r, []*target{ours, base})
	}
	ok := func() *outcome { return &outcome{samples: []sample{{rps: 1, requests: 10, allOK: 12}}} }
	if report(ok(), ok()) {
		t.Error("a clean run failed")
	}
	if report(ok(), &outcome{unsupported: "no endpoint"}) {
		t.Error("a scenario the baseline lacks failed the run")
	}
	warmupErr := ok()
	warmupErr.samples[0].allErrors = 1 // outside the window still counts
	if !report(ok(), warmupErr) {
		t.Error("an error during warm-up passed")
	}
	if !report(&outcome{samples: []sample{{}}}, ok()) {
		t.Error("a scenario with no successful answer passed")
	}
	if !report(&outcome{setupErr: io.ErrUnexpectedEOF}, ok()) {
		t.Error("a failed set-up passed")
	}
	crossed := ok()
	crossed.redisErrors = map[string]int64{"CROSSSLOT": 1}
	if !report(crossed, ok()) {
		t.Error("a CROSSSLOT reply passed")
	}
	other := ok()
	other.redisErrors = map[string]int64{"NOSCRIPT": 1}
	if report(other, ok()) {
		t.Error("a NOSCRIPT reply (the client loads the script and retries) failed the run")
	}
}

func TestReportColumnsPerPeer(t *testing.T) {
	ours := &target{name: "ours/cluster", store: storeCluster}
	a := &target{name: PeerGoOAuth2, peer: PeerGoOAuth2}
	b := &target{name: PeerOIDCProvider, peer: PeerOIDCProvider}
	oc := func(rps float64) *outcome { return &outcome{samples: []sample{{rps: rps, requests: 10, allOK: 10}}} }
	r := &runner{o: &Options{Scenarios: []string{ClientCredentials, Password}, Runs: 1}, results: map[string]map[string]*outcome{
		ClientCredentials: {ours.name: oc(300), a.name: oc(100), b.name: oc(200)},
		Password:          {ours.name: oc(10), a.name: oc(10), b.name: {unsupported: "no password grant"}},
	}}
	var buf strings.Builder
	if printReport(&buf, r, []*target{ours, a, b}) {
		t.Fatal("report failed")
	}
	out := buf.String()
	for _, want := range []string{"ours÷go-oauth2", "ours÷oidc-provider", "| 3.00× ", "| 1.50× ", "| n/a ", "errors ours/go-oauth2/oidc-provider", "oidc-provider password: n/a, no password grant"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestParseStoresAndPeers(t *testing.T) {
	for in, want := range map[string][]string{
		"both":           {storeEmbedded, storeRedis},
		"all":            {storeEmbedded, storeRedis, storeCluster},
		"cluster":        {storeCluster},
		"redis, cluster": {storeRedis, storeCluster},
		"embedded,both":  {storeEmbedded, storeRedis},
	} {
		got, err := parseStores(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseStores(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "mysql", "redis,sentinel"} {
		if _, err := parseStores(bad); err == nil {
			t.Errorf("parseStores(%q) accepted", bad)
		}
	}
	o, err := ParseFlags(nil, io.Discard)
	if err != nil || !slices.Equal(o.Peers, AllPeers) || !o.Baseline {
		t.Errorf("default peers %v (baseline %v), %v", o.Peers, o.Baseline, err)
	}
	o, err = ParseFlags([]string{"--baseline=false"}, io.Discard)
	if err != nil || !slices.Equal(o.Peers, []string{PeerOIDCProvider}) || o.Baseline {
		t.Errorf("--baseline=false: peers %v, %v", o.Peers, err)
	}
	o, err = ParseFlags([]string{"--peers", "none"}, io.Discard)
	if err != nil || len(o.Peers) != 0 || o.Baseline {
		t.Errorf("--peers none: %v, %v", o.Peers, err)
	}
	if _, err := ParseFlags([]string{"--peers", "keycloak"}, io.Discard); err == nil {
		t.Error("an unknown peer was accepted")
	}
}

func TestParseErrorStats(t *testing.T) {
	info := "# Errorstats\r\nerrorstat_CROSSSLOT:count=2\r\nerrorstat_NOSCRIPT:count=5\r\n"
	got := parseErrorStats(info)
	if got["CROSSSLOT"] != 2 || got["NOSCRIPT"] != 5 || len(got) != 2 {
		t.Fatalf("parsed %v", got)
	}
	d := countDelta(map[string]int64{"NOSCRIPT": 5}, got)
	if d["CROSSSLOT"] != 2 || len(d) != 1 {
		t.Errorf("delta %v", d)
	}
	failed := parseFailedCalls("cmdstat_client|setinfo:calls=4,usec=1,usec_per_call=0.2,rejected_calls=0,failed_calls=4\r\n" +
		"cmdstat_get:calls=9,usec=9,usec_per_call=1,rejected_calls=1,failed_calls=0\r\ncmdstat_set:calls=2,usec=2,usec_per_call=1,rejected_calls=0,failed_calls=0\r\n")
	if failed["client|setinfo"] != 4 || failed["get"] != 1 || len(failed) != 2 {
		t.Errorf("failed calls %v", failed)
	}
	if v := infoValue("cluster_state:ok\r\ncluster_known_nodes:3\r\n", "cluster_known_nodes"); v != "3" {
		t.Errorf("infoValue %q", v)
	}
}

func TestOIDCProviderPeerSkippedWithoutItsFiles(t *testing.T) {
	if p, why := oidcProviderPeer("", t.TempDir(), "ES256", 1); p != nil || why == "" {
		t.Errorf("no source tree: peer %v, reason %q", p, why)
	}
	// A source tree without the script or without node_modules: skipped,
	// saying which (when node itself is missing, that is the reason).
	src := t.TempDir()
	if p, why := oidcProviderPeer(src, t.TempDir(), "ES256", 1); p != nil || why == "" {
		t.Errorf("empty source tree: peer %v, reason %q", p, why)
	}
}
