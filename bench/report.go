package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// printHeader says what the numbers below were measured on.
func printHeader(w io.Writer, o *Options, serverCPU, loadCPU int, skipped []string, targets []*target) {
	fmt.Fprintf(w, "# authserver bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %d CPUs, %s, Linux %s, %s\n", runtime.NumCPU(), cpuModel(), readTrim("/proc/sys/kernel/osrelease"), runtime.Version())
	if la := readTrim("/proc/loadavg"); la != "" {
		fmt.Fprintf(w, "- load average at start: %s\n", strings.Join(strings.Fields(la)[:3], " "))
	}
	if serverCPU >= 0 {
		fmt.Fprintf(w, "- servers and peers pinned to CPU %d with GOMAXPROCS=1; load generator and redis-server on CPU %d (load GOMAXPROCS=1)\n", serverCPU, loadCPU)
	} else {
		fmt.Fprintf(w, "- not pinned: servers (GOMAXPROCS=1), load and redis-server share the CPUs\n")
	}
	if v := redisVersion(); v != "" && (slices.Contains(o.Stores, storeRedis) || slices.Contains(o.Stores, storeCluster)) && o.Target == "" {
		fmt.Fprintf(w, "- %s", v)
		if slices.Contains(o.Stores, storeCluster) {
			fmt.Fprintf(w, "; the cluster store is a Redis Cluster of %d masters, no replicas", clusterMasters)
		}
		fmt.Fprintln(w)
	}
	for _, t := range targets {
		if t.peer != "" && t.version != "" {
			fmt.Fprintf(w, "- peer %s: %s\n", t.peer, t.version)
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(w, "- %s\n", s)
	}
	fmt.Fprintf(w, "- %s tokens, %d connections, %s window after %s warm-up, median of %d run(s)\n\n",
		o.Alg, o.Concurrency, o.Duration, o.Warmup, o.Runs)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "redis-server " + v
		}
	}
	return ""
}

// printReport prints the table and what needs saying about it, and
// reports whether anything failed.
func printReport(w io.Writer, r *runner, targets []*target) bool {
	var ours, peers []*target
	for _, t := range targets {
		if t.peer != "" {
			peers = append(peers, t)
		} else {
			ours = append(ours, t)
		}
	}
	names := []string{"ours"}
	for _, p := range peers {
		names = append(names, p.peer)
	}
	group := strings.Join(names, "/")
	header := []string{"store", "scenario", "ours req/s"}
	for _, p := range peers {
		header = append(header, p.peer+" req/s", "ours÷"+p.peer)
	}
	for _, n := range names {
		header = append(header, n+" CPU µs/req")
	}
	for _, n := range names {
		header = append(header, n+" p50/p90/p99 ms")
	}
	header = append(header, "errors "+group)
	for _, n := range names {
		header = append(header, n+" peak RSS MiB")
	}
	header = append(header, "Redis cmds/req (incl. Lua)", "server util "+group, "load core busy "+group)
	var rows [][]string
	failed := false
	for _, t := range ours {
		for _, sc := range r.o.Scenarios {
			oc := r.results[sc][t.name]
			all := []*outcome{oc}
			for _, p := range peers {
				all = append(all, r.results[sc][p.name])
			}
			row := []string{t.store, sc, rpsCell(oc)}
			for _, pc := range all[1:] {
				row = append(row, rpsCell(pc), ratioCell(oc, pc))
			}
			join := func(f func(*outcome) string) string {
				cells := make([]string, len(all))
				for i, c := range all {
					cells[i] = f(c)
				}
				return strings.Join(cells, "/")
			}
			for _, c := range all {
				row = append(row, cpuCell(c))
			}
			for _, c := range all {
				row = append(row, latCell(c))
			}
			row = append(row, join(errCell))
			for _, c := range all {
				row = append(row, rssCell(c))
			}
			row = append(row, redisCell(oc),
				join(func(c *outcome) string { return utilCell(c, func(s sample) float64 { return s.serverUtil }) }),
				join(func(c *outcome) string { return utilCell(c, func(s sample) float64 { return s.loadBusy }) }))
			rows = append(rows, row)
		}
	}
	fmt.Fprintln(w, "## Results")
	fmt.Fprintln(w)
	writeTable(w, header, rows)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ours÷peer: ours req/s ÷ the peer's req/s, measured alternately in this run. CPU: server user+system time per request (×1000 = CPU ms per 1,000 requests).")
	fmt.Fprintln(w, "RSS: highest resident set of the server in the window. The peers run on their in-memory stores whatever our store is: one peer")
	fmt.Fprintln(w, "figure per scenario, repeated on each of our rows. server util: server CPU time ÷ window (100% = its core saturated, so req/s is")
	fmt.Fprintln(w, "CPU-bound); load core busy: everything on the load generator's core (load, redis-server, anything else running there): near")
	fmt.Fprintln(w, "100% means the load side was the limit. Redis cmds/req: summed over every node (each master of a cluster).")

	var notes []string
	for _, sc := range r.o.Scenarios {
		for _, t := range targets {
			oc := r.results[sc][t.name]
			if oc == nil {
				continue
			}
			var nerr, nok int64
			for _, s := range oc.samples {
				nerr += s.allErrors
				nok += s.allOK
				if s.exhausted {
					notes = append(notes, fmt.Sprintf("%s %s: codes ran out after %s of the window; its rate is over that time", t.name, sc, s.elapsed.Round(time.Millisecond)))
				}
			}
			switch {
			case oc.setupErr != nil:
				failed = true
				notes = append(notes, fmt.Sprintf("FAILED %s %s: %v", t.name, sc, oc.setupErr))
			case nerr > 0:
				failed = true
				notes = append(notes, fmt.Sprintf("FAILED %s %s: %d errors (warm-up included), e.g. %s", t.name, sc, nerr, strings.Join(oc.samplesErr, " | ")))
			case len(oc.samples) > 0 && nok == 0:
				failed = true
				notes = append(notes, fmt.Sprintf("FAILED %s %s: no request succeeded", t.name, sc))
			case oc.unsupported != "":
				notes = append(notes, fmt.Sprintf("%s %s: n/a, %s", t.name, sc, oc.unsupported))
			}
			if sc == Introspection && t.introspectNote != "" && oc.unsupported == "" {
				notes = append(notes, fmt.Sprintf("%s %s: %s", t.name, sc, t.introspectNote))
			}
			if n := oc.redisErrors[crossSlot]; n > 0 {
				failed = true
				notes = append(notes, fmt.Sprintf("FAILED %s %s: Redis answered CROSSSLOT %d times (INFO errorstats, summed over the nodes)", t.name, sc, n))
			}
			if len(oc.redisErrors) > 0 {
				note := fmt.Sprintf("%s %s: Redis error replies (INFO errorstats): %s", t.name, sc, formatTotals(oc.redisErrors))
				if len(oc.redisFailedCmds) > 0 {
					note += "; failed or rejected calls (INFO commandstats): " + formatTotals(oc.redisFailedCmds)
				}
				notes = append(notes, note)
			}
		}
	}
	for _, t := range ours {
		if t.proc == nil {
			continue
		}
		if n := countInLog(t.proc.log, crossSlot); n > 0 {
			failed = true
			notes = append(notes, fmt.Sprintf("FAILED %s: its log (%s) mentions CROSSSLOT %d times", t.name, t.proc.log, n))
		}
	}
	for _, t := range ours {
		if t.redis == nil {
			continue
		}
		fmt.Fprintf(w, "\nRedis commands %s sends per request (MONITOR, %d sequential requests; commands run inside Lua scripts not counted):\n\n", t.name, accountRequests)
		for _, sc := range r.o.Scenarios {
			if oc := r.results[sc][t.name]; oc != nil && oc.redisTopCount > 0 {
				fmt.Fprintf(w, "- %s: %s\n", sc, formatCounts(oc.redisTop, oc.redisTopCount))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	return failed
}

// formatTotals renders counts by name: "MOVED 3, NOSCRIPT 1".
func formatTotals(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// countInLog counts the occurrences of s in the file at path.
func countInLog(path, s string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

// writeTable prints a Markdown table, columns padded to line up.
func writeTable(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}

func median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (oc *outcome) median(f func(sample) float64) float64 {
	vals := make([]float64, 0, len(oc.samples))
	for _, s := range oc.samples {
		vals = append(vals, f(s))
	}
	return median(vals)
}

// unavailable is the cell of an outcome without numbers, or "".
func unavailable(oc *outcome) string {
	switch {
	case oc == nil:
		return "–"
	case oc.setupErr != nil:
		return "failed"
	case oc.unsupported != "":
		return "n/a"
	case len(oc.samples) == 0:
		return "–"
	}
	return ""
}

func rpsCell(oc *outcome) string {
	if u := unavailable(oc); u != "" {
		return u
	}
	return fmt.Sprintf("%.0f", oc.median(func(s sample) float64 { return s.rps }))
}

func ratioCell(oc, bc *outcome) string {
	if unavailable(oc) != "" || unavailable(bc) != "" {
		return "–"
	}
	b := bc.median(func(s sample) float64 { return s.rps })
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", oc.median(func(s sample) float64 { return s.rps })/b)
}

func cpuCell(oc *outcome) string {
	if u := unavailable(oc); u != "" {
		return u
	}
	v := oc.median(func(s sample) float64 { return float64(s.cpuPerReq) })
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", v/float64(time.Microsecond))
}

func latCell(oc *outcome) string {
	if u := unavailable(oc); u != "" {
		return u
	}
	q := func(f func(sample) time.Duration) string {
		return fmtMillis(time.Duration(oc.median(func(s sample) float64 { return float64(f(s)) })))
	}
	return q(func(s sample) time.Duration { return s.p50 }) + "/" +
		q(func(s sample) time.Duration { return s.p90 }) + "/" +
		q(func(s sample) time.Duration { return s.p99 })
}

func errCell(oc *outcome) string {
	if u := unavailable(oc); u != "" && u != "failed" {
		return u
	}
	if oc.setupErr != nil {
		return "setup"
	}
	var n int64
	for _, s := range oc.samples {
		n += s.errors
	}
	return fmt.Sprint(n)
}

func rssCell(oc *outcome) string {
	if u := unavailable(oc); u != "" {
		return u
	}
	var peak int64
	for _, s := range oc.samples {
		peak = max(peak, s.rssPeak)
	}
	return fmtMiB(peak)
}

func redisCell(oc *outcome) string {
	if oc == nil || len(oc.samples) == 0 || oc.samples[0].redisAll < 0 {
		return "–"
	}
	all := trimFloat(oc.median(func(s sample) float64 { return s.redisAll }))
	if oc.redisTopCount == 0 {
		return "? (" + all + ")"
	}
	var top int64
	for _, n := range oc.redisTop {
		top += n
	}
	return trimFloat(float64(top)/float64(oc.redisTopCount)) + " (" + all + ")"
}

func utilCell(oc *outcome, f func(sample) float64) string {
	if u := unavailable(oc); u != "" {
		return u
	}
	return fmtPct(oc.median(f))
}

func fmtPct(f float64) string {
	if f < 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

func fmtMicros(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func fmtMillis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.2f", ms)
}

func fmtMiB(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}
