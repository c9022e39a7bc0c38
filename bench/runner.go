package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// sample is one measured run of one scenario on one target.
type sample struct {
	rps           float64
	cpuPerReq     time.Duration // 0 when the pid is unknown
	p50, p90, p99 time.Duration
	requests      int64
	errors        int64
	elapsed       time.Duration
	rssStart      int64 // bytes, at the window's start
	rssEnd        int64
	rssPeak       int64   // highest resident set seen in the window
	redisAll      float64 // Redis commands per request, those inside scripts included; -1: no Redis
	exhausted     bool
	serverUtil    float64 // server CPU time ÷ window: 1.0 is one core saturated
	loadBusy      float64 // share of the load core that was busy; -1 unknown
	// Answers outside the window too (warm-up, in flight at its end).
	allOK, allErrors int64
}

// outcome is everything one target did in one scenario.
type outcome struct {
	samples     []sample
	unsupported string
	setupErr    error
	samplesErr  []string // the first distinct request errors
	// Redis client commands per request by name, from the MONITOR pass.
	redisTop      map[string]int64
	redisTopCount int
	// Error replies the Redis nodes sent during the scenario (its runs and
	// the MONITOR pass), by prefix, from INFO errorstats; nil when unread.
	redisErrors map[string]int64
	// The commands those errors answered (failed_calls + rejected_calls of
	// INFO commandstats).
	redisFailedCmds map[string]int64
}

type runner struct {
	o       *Options
	loadCPU int // -1 when not pinned
	logf    func(string, ...any)
	results map[string]map[string]*outcome // scenario → target name
}

func (r *runner) outcome(sc string, t *target) *outcome {
	oc := r.results[sc][t.name]
	if oc == nil {
		oc = &outcome{}
		r.results[sc][t.name] = oc
	}
	return oc
}

// measure runs one window of scenario sc on t and records it.
func (r *runner) measure(ctx context.Context, t *target, sc string, run int) {
	oc := r.outcome(sc, t)
	if oc.unsupported != "" || oc.setupErr != nil {
		return
	}
	if why, ok := t.unsupported[sc]; ok {
		oc.unsupported = why
		r.logf("%-14s %-18s n/a: %s", t.name, sc, why)
		return
	}
	p := setupParams{workers: r.o.Concurrency}
	if sc == AuthorizationCode {
		n, err := r.codesNeeded(ctx, t)
		if err != nil {
			oc.setupErr = err
			r.logf("%-14s %-18s setup failed: %v", t.name, sc, err)
			return
		}
		p.codes = n
	}
	j, err := setupJob(ctx, sc, t, p)
	var un *unsupported
	switch {
	case errors.As(err, &un):
		oc.unsupported = un.why
		r.logf("%-14s %-18s n/a: %s", t.name, sc, un.why)
		return
	case err != nil:
		oc.setupErr = err
		r.logf("%-14s %-18s setup failed: %v", t.name, sc, err)
		return
	}

	var (
		before, after    procSample
		sBefore, sAfter  map[string]int64
		procErr, statErr error
		hwmReset         bool
		loadB, loadT     [2]int64
		loadErr          error
	)
	profile := t.prof != nil && run == 1
	onStart := func() {
		if r.loadCPU >= 0 {
			loadB[0], loadT[0], loadErr = cpuTimes(r.loadCPU)
		}
		if t.pid > 0 {
			// Writing 5 to clear_refs resets VmHWM, so the peak read at
			// the end is this window's.
			hwmReset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.pid), []byte("5"), 0) == nil
			before, procErr = sampleProc(t.pid)
		}
		if t.redis != nil {
			sBefore, statErr = t.redis.commandStats()
		}
		if profile {
			t.prof.start(ctx, t.ctl, t.store+"-"+sc)
		}
	}
	onEnd := func() {
		if profile {
			t.prof.stop(ctx, t.ctl)
		}
		if t.pid > 0 {
			var err error
			after, err = sampleProc(t.pid)
			procErr = errors.Join(procErr, err)
		}
		if t.redis != nil {
			var err error
			sAfter, err = t.redis.commandStats()
			statErr = errors.Join(statErr, err)
		}
		if r.loadCPU >= 0 {
			var err error
			loadB[1], loadT[1], err = cpuTimes(r.loadCPU)
			loadErr = errors.Join(loadErr, err)
		}
	}
	res := runLoad(ctx, t.http, j, loadConfig{workers: r.o.Concurrency, warmup: r.o.Warmup, duration: r.o.Duration}, onStart, onEnd)

	s := sample{
		rps: res.rps(), requests: res.requests, errors: res.errors, elapsed: res.elapsed,
		p50: res.hist.quantile(0.50), p90: res.hist.quantile(0.90), p99: res.hist.quantile(0.99),
		redisAll: -1, exhausted: res.exhausted, loadBusy: -1, allOK: res.allOK, allErrors: res.allErrors,
	}
	if r.loadCPU >= 0 && loadErr == nil && loadT[1] > loadT[0] {
		s.loadBusy = float64(loadB[1]-loadB[0]) / float64(loadT[1]-loadT[0])
	}
	if t.pid > 0 && procErr == nil && res.requests > 0 {
		s.cpuPerReq = (after.cpu - before.cpu) / time.Duration(res.requests)
		s.serverUtil = float64(after.cpu-before.cpu) / float64(res.elapsed)
		s.rssStart, s.rssEnd = before.rss, after.rss
		s.rssPeak = max(before.rss, after.rss)
		if hwmReset {
			s.rssPeak = max(s.rssPeak, after.hwm)
		}
	}
	if t.redis != nil && statErr == nil && res.requests > 0 {
		s.redisAll = float64(statsDelta(sBefore, sAfter)) / float64(res.requests)
	}
	oc.samples = append(oc.samples, s)
	if sc == AuthorizationCode {
		t.codeRate = max(t.codeRate, float64(res.requests)/max(res.elapsed.Seconds(), 1e-3))
		t.codeRateMeasured = true
	}
	for _, e := range res.samples {
		if len(oc.samplesErr) < 5 && !slices.Contains(oc.samplesErr, e) {
			oc.samplesErr = append(oc.samplesErr, e)
		}
	}
	note := ""
	if s.exhausted {
		note = " (codes used up: window ended early)"
	}
	r.logf("%-14s %-18s run %d/%d: %6.0f req/s  cpu %s/req  p50 %s p90 %s p99 %s ms  %d errors  rss %s→%s MiB (peak %s)  server %s of a core, load core %s busy%s",
		t.name, sc, run, r.o.Runs, s.rps, fmtMicros(s.cpuPerReq), fmtMillis(s.p50), fmtMillis(s.p90), fmtMillis(s.p99),
		s.errors, fmtMiB(s.rssStart), fmtMiB(s.rssEnd), fmtMiB(s.rssPeak), fmtPct(s.serverUtil), fmtPct(s.loadBusy), note)
}

// redisErrSnap is what errorsBefore reads: error replies by prefix, and
// failed or rejected calls by command.
type redisErrSnap struct{ byPrefix, byCommand map[string]int64 }

// errorsBefore snapshots the error replies of every Redis the targets
// use, before a scenario's runs.
func (r *runner) errorsBefore(targets []*target) map[string]redisErrSnap {
	out := map[string]redisErrSnap{}
	for _, t := range targets {
		if t.redis == nil {
			continue
		}
		snap, err := t.redis.errorSnapshot()
		if err != nil {
			r.logf("%-14s INFO errorstats: %v", t.name, err)
			continue
		}
		out[t.name] = snap
	}
	return out
}

// errorsAfter records the error replies since errorsBefore in each
// target's outcome of sc, and says so loudly when any is CROSSSLOT: a
// multi-key command whose keys the cluster places in different slots, which
// a cluster deployment must never send.
func (r *runner) errorsAfter(targets []*target, sc string, before map[string]redisErrSnap) {
	for _, t := range targets {
		b, ok := before[t.name]
		if !ok {
			continue
		}
		m, err := t.redis.errorSnapshot()
		if err != nil {
			r.logf("%-14s INFO errorstats: %v", t.name, err)
			continue
		}
		d := countDelta(b.byPrefix, m.byPrefix)
		oc := r.outcome(sc, t)
		oc.redisErrors, oc.redisFailedCmds = d, countDelta(b.byCommand, m.byCommand)
		if n := d[crossSlot]; n > 0 {
			r.logf("%-14s %-18s FAILED: Redis answered CROSSSLOT %d times", t.name, sc, n)
		}
	}
}

// crossSlot is the error prefix of a multi-key command across slots.
const crossSlot = "CROSSSLOT"

// codesNeeded sizes the codes minted for one authorization_code run from
// the exchange rate seen in a pilot (which also warms the path up).
func (r *runner) codesNeeded(ctx context.Context, t *target) (int, error) {
	workers := r.o.Concurrency
	// A Node peer's first pilot runs before V8 has compiled its hot paths
	// and can see a quarter of the rate it reaches; its second is warm.
	pilots := 1
	if t.interactive {
		pilots = 2
	}
	for ; t.codeRate == 0 && pilots > 0; pilots-- {
		pilot := min(16*workers, r.o.MaxCodes)
		codes, err := t.mintCodes(ctx, pilot, workers)
		if err != nil {
			return 0, fmt.Errorf("mint authorization codes: %w", err)
		}
		res := runLoad(ctx, t.http, &codeJob{t: t, codes: codes}, loadConfig{workers: workers, duration: time.Minute}, nil, nil)
		if res.errors > 0 || res.requests == 0 {
			return 0, fmt.Errorf("pilot exchange failed: %v", res.samples)
		}
		if pilots == 1 {
			t.codeRate = float64(res.requests) / res.elapsed.Seconds()
		}
	}
	// The pilot starts cold and short, so it underestimates: a wide margin
	// until a measured run has raised the rate to what it saw.
	margin := 2.5
	if t.codeRateMeasured {
		margin = 1.3
	}
	window := (r.o.Warmup + r.o.Duration).Seconds()
	n := int(t.codeRate*window*margin) + 4*workers
	return min(n, r.o.MaxCodes), nil
}

// accountRequests is how many requests the MONITOR pass sends, one at a
// time.
const accountRequests = 20

// account counts the Redis commands our server sends per request of sc,
// telling them from those run inside Lua scripts.
func (r *runner) account(ctx context.Context, t *target, sc string) {
	oc := r.outcome(sc, t)
	if oc.unsupported != "" || oc.setupErr != nil {
		return
	}
	j, err := setupJob(ctx, sc, t, setupParams{workers: 1, codes: accountRequests})
	if err != nil {
		r.logf("%-14s %-18s Redis accounting: %v", t.name, sc, err)
		return
	}
	m, err := t.redis.startMonitor()
	if err != nil {
		r.logf("%-14s %-18s Redis accounting: %v", t.name, sc, err)
		return
	}
	res := runLoad(ctx, t.http, j, loadConfig{workers: 1, duration: time.Minute, maxRequests: accountRequests}, nil, nil)
	counts := m.stop()
	if res.errors > 0 || res.requests == 0 {
		r.logf("%-14s %-18s Redis accounting: %d errors %v", t.name, sc, res.errors, res.samples)
		return
	}
	oc.redisTop, oc.redisTopCount = counts, int(res.requests)
}
