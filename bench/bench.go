// Package bench is the load benchmark behind `authserver bench`: it starts
// our server (on the embedded store, on a Redis of its own and, with
// --store cluster, on a 3-master Redis Cluster of its own) and the peer
// servers (a go-oauth2 baseline, node-oidc-provider), each pinned to one
// core with GOMAXPROCS=1, provisions a client and a user, drives every
// scenario from a second core with a fixed number of keep-alive
// connections, and prints one table with requests/s, latency percentiles,
// server CPU per request (from /proc/<pid>/stat), peak RSS and Redis
// commands per request, ours beside each peer's from the same run.
//
// Traffic goes only to 127.0.0.1, to processes the benchmark started (or
// to the one server --target names); everything stops itself.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options are the benchmark's settings; ParseFlags fills them from the
// command line.
type Options struct {
	Duration    time.Duration
	Warmup      time.Duration
	Concurrency int
	Runs        int
	Stores      []string
	Scenarios   []string
	Alg         string
	Baseline    bool     // false drops go-oauth2 from Peers
	Peers       []string // peers measured beside ours (AllPeers)
	Pin         bool
	ServerCPU   int
	LoadCPU     int
	MaxCodes    int
	Smoke       bool
	ProfileDir  string
	Src         string // the authserver module root (for building the baseline)
	ServerBin   string // our server binary; default: this program
	Keep        bool   // keep the work directory (logs, data)

	Target     string // an already running server to measure instead of starting ours
	AdminURL   string
	AdminToken string
	TargetPID  int
}

// ErrFailed is returned when some request failed or a scenario could not
// be set up: the numbers printed are not to be trusted.
var ErrFailed = errors.New("bench: errors occurred (see above)")

// ParseFlags reads the benchmark's flags.
func ParseFlags(args []string, out io.Writer) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("authserver bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured window of each run")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "load before each window that is not counted")
	fs.IntVar(&o.Concurrency, "concurrency", 32, "connections (one worker each)")
	fs.IntVar(&o.Runs, "runs", 3, "runs of each scenario; the table shows the median")
	store := fs.String("store", "both", "comma-separated stores: embedded, redis, cluster (a 3-master Redis Cluster); both = embedded,redis; all = embedded,redis,cluster")
	scenarios := fs.String("scenarios", strings.Join(AllScenarios, ","), "comma-separated scenarios")
	fs.StringVar(&o.Alg, "alg", "ES256", "signing algorithm of ours and the baseline: ES256, EdDSA or RS256")
	fs.BoolVar(&o.Baseline, "baseline", true, "measure the go-oauth2 baseline beside ours (--baseline=false drops it from --peers)")
	peers := fs.String("peers", strings.Join(AllPeers, ","), "comma-separated peers measured beside ours: go-oauth2, oidc-provider (skipped when node or the npm package is missing), or none")
	fs.BoolVar(&o.Pin, "pin", true, "pin servers and load to separate cores (taskset, sched_setaffinity)")
	fs.IntVar(&o.ServerCPU, "server-cpu", -1, "core the servers run on (default: the first this process may use)")
	fs.IntVar(&o.LoadCPU, "load-cpu", -1, "core the load generator and redis-server run on (default: the second)")
	fs.IntVar(&o.MaxCodes, "max-codes", 150000, "most authorization codes minted for one run")
	fs.BoolVar(&o.Smoke, "smoke", false, "a quick check that every scenario answers (1 s each, one run); for CI")
	fs.StringVar(&o.ProfileDir, "profile", "", "write CPU and allocation profiles of our server, one per scenario, to this directory")
	fs.StringVar(&o.Src, "src", "", "authserver source tree (default: found from the working directory)")
	fs.StringVar(&o.ServerBin, "server-bin", "", "our server binary (default: this program)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the work directory with the servers' logs and data")
	fs.StringVar(&o.Target, "target", "", "base URL of a running server to measure instead of starting ours")
	fs.StringVar(&o.AdminURL, "admin-url", "", "with --target: its admin API base URL")
	fs.StringVar(&o.AdminToken, "admin-token", "", "with --target: its admin token")
	fs.IntVar(&o.TargetPID, "target-pid", 0, "with --target: its pid, for CPU and RSS figures")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Smoke {
		if !set["duration"] {
			o.Duration = time.Second
		}
		if !set["warmup"] {
			o.Warmup = 250 * time.Millisecond
		}
		if !set["runs"] {
			o.Runs = 1
		}
	}
	stores, err := parseStores(*store)
	if err != nil {
		return nil, err
	}
	o.Stores = stores
	if o.Peers, err = parsePeers(*peers); err != nil {
		return nil, err
	}
	if !o.Baseline {
		o.Peers = slices.DeleteFunc(o.Peers, func(p string) bool { return p == PeerGoOAuth2 })
	}
	o.Baseline = slices.Contains(o.Peers, PeerGoOAuth2)
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(AllScenarios, s) {
			return nil, fmt.Errorf("--scenarios: unknown %q (have %s)", s, strings.Join(AllScenarios, ", "))
		}
		o.Scenarios = append(o.Scenarios, s)
	}
	switch {
	case len(o.Scenarios) == 0:
		return nil, errors.New("--scenarios: none given")
	case o.Duration <= 0 || o.Warmup < 0:
		return nil, errors.New("--duration must be positive and --warmup not negative")
	case o.Concurrency < 1 || o.Runs < 1:
		return nil, errors.New("--concurrency and --runs must be at least 1")
	case o.Alg != "ES256" && o.Alg != "EdDSA" && o.Alg != "RS256":
		return nil, fmt.Errorf("--alg: want ES256, EdDSA or RS256, not %q", o.Alg)
	case o.Target != "" && (o.AdminURL == "" || o.AdminToken == ""):
		return nil, errors.New("--target needs --admin-url and --admin-token to provision its client and user")
	case o.Target != "" && o.ProfileDir != "":
		return nil, errors.New("--profile needs a server the benchmark starts, not --target")
	}
	return o, nil
}

// Run runs the benchmark and prints the table to stdout; progress and
// diagnostics go to stderr. It returns ErrFailed when any request failed.
func Run(ctx context.Context, o *Options, stdout, stderr io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	work, err := os.MkdirTemp("", "authserver-bench-")
	if err != nil {
		return err
	}
	if o.Keep {
		logf("work directory (kept): %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	// Build before pinning: the go tool would inherit the load core.
	var src string
	if o.Baseline || o.ProfileDir != "" {
		if src, err = sourceRoot(o.Src); err != nil {
			return err
		}
	} else if len(o.Peers) > 0 {
		src, _ = sourceRoot(o.Src) // without it, a peer that needs it is skipped
	}
	peers, skipped, err := preparePeers(ctx, o, src, work, logf)
	if err != nil {
		return err
	}
	server := serverSpec{alg: o.Alg, args: []string{"serve"}}
	if server.bin = o.ServerBin; server.bin == "" {
		if server.bin, err = os.Executable(); err != nil {
			return err
		}
	}
	var prof *profiler
	if o.ProfileDir != "" {
		if prof, err = newProfiler(ctx, src, work, o.ProfileDir); err != nil {
			return err
		}
		server.prof = prof
		logf("profiling: our server runs as bench/profserver; profiles go to %s", prof.dir)
	}

	serverCPU, loadCPU := -1, -1
	if o.Pin {
		serverCPU, loadCPU, err = chooseCPUs(o.ServerCPU, o.LoadCPU)
		switch {
		case err != nil:
			logf("warning: not pinned: %v; CPU per request still holds, requests/s do not", err)
		case !hasTaskset():
			logf("warning: taskset (util-linux) not found: nothing is pinned")
			serverCPU, loadCPU = -1, -1
		default:
			if err := pinSelf(loadCPU); err != nil {
				logf("warning: cannot pin the load generator: %v", err)
				serverCPU, loadCPU = -1, -1
			}
		}
	}
	server.cpu = serverCPU

	var targets []*target
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	if o.Target != "" {
		t, err := external(ctx, o.Target, o.AdminURL, o.AdminToken, o.TargetPID, o.Concurrency)
		if err != nil {
			return fmt.Errorf("target %s: %w", o.Target, err)
		}
		targets = append(targets, t)
	} else {
		for _, st := range o.Stores {
			var rs *redisDeploy
			var err error
			switch st {
			case storeRedis:
				rs, err = startStandalone(ctx, work, loadCPU)
			case storeCluster:
				logf("starting a Redis Cluster of %d masters", clusterMasters)
				rs, err = startCluster(ctx, work, loadCPU)
			}
			if err != nil {
				return err
			}
			server.dir = filepath.Join(work, "ours-"+st)
			logf("starting our server on the %s store", st)
			t, err := startOurs(ctx, server, st, rs, o.Concurrency)
			if err != nil {
				if rs != nil {
					rs.stop()
				}
				return fmt.Errorf("our server (%s): %w", st, err)
			}
			targets = append(targets, t)
		}
	}
	// The peers write every token they issue to their in-memory stores, so
	// their heaps (and their GC work per request) grow with every request
	// served. They are started afresh for each scenario: their figures are
	// those of a server that has not yet filled up, their best case.
	peerIndex := map[string]int{}
	startPeers := func() error {
		for _, p := range peers {
			i, started := peerIndex[p.name]
			if started {
				targets[i].stop()
			} else {
				logf("starting the %s peer", p.name)
			}
			t, err := p.start(ctx, serverCPU)
			if err != nil {
				return fmt.Errorf("peer %s: %w", p.name, err)
			}
			if started {
				targets[i] = t
			} else {
				peerIndex[p.name] = len(targets)
				targets = append(targets, t)
			}
		}
		return nil
	}
	if err := startPeers(); err != nil {
		return err
	}

	r := &runner{o: o, loadCPU: loadCPU, logf: logf, results: map[string]map[string]*outcome{}}
	printHeader(stdout, o, serverCPU, loadCPU, skipped, targets)
	for i, sc := range executionOrder(o.Scenarios) {
		// --smoke checks that every server answers; a peer's heap does not
		// matter there, and restarts would be most of the peers' time.
		if i > 0 && !o.Smoke {
			if err := startPeers(); err != nil {
				return err
			}
		}
		r.results[sc] = map[string]*outcome{}
		redisErrs := r.errorsBefore(targets)
		for run := 1; run <= o.Runs; run++ {
			for _, t := range targets {
				if err := ctx.Err(); err != nil {
					return err
				}
				r.measure(ctx, t, sc, run)
			}
		}
		for _, t := range targets {
			if t.redis != nil {
				r.account(ctx, t, sc)
			}
		}
		r.errorsAfter(targets, sc, redisErrs)
	}
	failed := printReport(stdout, r, targets)
	if prof != nil {
		prof.summarize(ctx, stdout)
	}
	if failed {
		return ErrFailed
	}
	return nil
}

// parseStores reads --store: a comma-separated list of stores, where
// "both" stands for embedded,redis and "all" for every store.
func parseStores(v string) ([]string, error) {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range strings.Split(v, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "both":
			add(storeEmbedded)
			add(storeRedis)
		case "all":
			add(storeEmbedded)
			add(storeRedis)
			add(storeCluster)
		case storeEmbedded, storeRedis, storeCluster:
			add(s)
		default:
			return nil, fmt.Errorf("--store: want embedded, redis, cluster, both or all (or a comma-separated list), not %q", s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--store: none given")
	}
	return out, nil
}

// executionOrder runs the password scenario last: 32 argon2id computations
// at once grow the server's heap by hundreds of MiB, which the Go runtime
// returns only slowly, and would stand in every later row's RSS.
func executionOrder(scenarios []string) []string {
	out := slices.DeleteFunc(slices.Clone(scenarios), func(s string) bool { return s == Password })
	if len(out) < len(scenarios) {
		out = append(out, Password)
	}
	return out
}

// chooseCPUs picks the server's and the load's cores among those this
// process may run on (a container's cpuset need not start at 0); -1 means
// the default choice.
func chooseCPUs(server, load int) (int, int, error) {
	allowed, err := allowedCPUs()
	if err != nil {
		return -1, -1, err
	}
	if len(allowed) < 2 {
		return -1, -1, fmt.Errorf("%d CPU available, servers and load share it", len(allowed))
	}
	if server < 0 {
		server = allowed[0]
	}
	if load < 0 {
		load = allowed[1]
		if load == server {
			load = allowed[0]
		}
	}
	if server == load || !slices.Contains(allowed, server) || !slices.Contains(allowed, load) {
		return -1, -1, fmt.Errorf("--server-cpu %d and --load-cpu %d must be two different cores of %v", server, load, allowed)
	}
	return server, load, nil
}

func hasTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}

// sourceRoot finds the authserver module: dir if given, else the nearest
// directory above the working directory whose go.mod declares it.
func sourceRoot(dir string) (string, error) {
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for d := wd; ; d = filepath.Dir(d) {
			if isAuthserverRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		return "", errors.New("the authserver source tree is needed to build the baseline: run from inside it or pass --src (or --baseline=false)")
	}
	if !isAuthserverRoot(dir) {
		return "", fmt.Errorf("--src %s: no go.mod of module authserver there", dir)
	}
	return dir, nil
}

func isAuthserverRoot(d string) bool {
	b, err := os.ReadFile(filepath.Join(d, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module authserver"
}

// goBuild runs `go build -o out pkg` in dir.
func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, b)
	}
	return nil
}
