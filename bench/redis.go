package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisServer is a redis-server the benchmark started for itself: its own
// port on 127.0.0.1, no persistence, stopped at the end. It never talks to a
// Redis it did not start.
type redisServer struct {
	addr string
	proc *child
}

func startRedis(ctx context.Context, dir string, cpu int) (*redisServer, error) {
	return startRedisNode(ctx, dir, cpu, false)
}

// startRedisNode starts one redis-server; a cluster node (cluster true)
// also needs its bus port, port+10000, free.
func startRedisNode(ctx context.Context, dir string, cpu int, cluster bool) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (run `make deps`, or use --store embedded): %w", err)
	}
	var lastErr error
	for range 5 { // the port may be taken between the check and the bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if cluster && !portFree(port+clusterBusOffset) {
			lastErr = fmt.Errorf("cluster bus port %d taken", port+clusterBusOffset)
			continue
		}
		rdir := filepath.Join(dir, "redis-"+strconv.Itoa(port))
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return nil, err
		}
		args := []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", rdir,
		}
		if cluster {
			args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "5000")
		}
		p, err := startChild("redis-"+strconv.Itoa(port), rdir, cpu, bin, args, cleanEnv())
		if err != nil {
			return nil, err
		}
		r := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), proc: p}
		lastErr = p.waitReady(ctx, 10*time.Second, func() error {
			_, err := r.command("PING")
			return err
		})
		if lastErr == nil {
			return r, nil
		}
		p.stop(time.Second)
	}
	return nil, lastErr
}

func (r *redisServer) url() string { return "redis://" + r.addr + "/0" }

func (r *redisServer) stop() { r.proc.stop(5 * time.Second) }

// clusterBusOffset is where Redis Cluster puts a node's bus port.
const clusterBusOffset = 10000

func portFree(port int) bool {
	if port > 65535 {
		return false
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// redisDeploy is the Redis one of our servers runs on: a standalone
// server (one node) or a Redis Cluster of masters without replicas, all
// started by the benchmark.
type redisDeploy struct {
	cluster bool
	nodes   []*redisServer
}

// clusterMasters is how many masters the cluster row runs on: the fewest
// a Redis Cluster accepts.
const clusterMasters = 3

func startStandalone(ctx context.Context, dir string, cpu int) (*redisDeploy, error) {
	r, err := startRedis(ctx, dir, cpu)
	if err != nil {
		return nil, err
	}
	return &redisDeploy{nodes: []*redisServer{r}}, nil
}

// startCluster starts clusterMasters cluster nodes (no replicas, no
// persistence), gives each a third of the slots and a config epoch of its
// own, introduces them to each other (CLUSTER MEET) and waits until every
// node reports cluster_state:ok and knows all the others. redis-cli is not
// needed: the inline commands do it.
func startCluster(ctx context.Context, dir string, cpu int) (*redisDeploy, error) {
	d := &redisDeploy{cluster: true}
	for range clusterMasters {
		n, err := startRedisNode(ctx, dir, cpu, true)
		if err != nil {
			d.stop()
			return nil, err
		}
		d.nodes = append(d.nodes, n)
	}
	fail := func(err error) (*redisDeploy, error) {
		d.stop()
		return nil, fmt.Errorf("redis cluster: %w", err)
	}
	for i, n := range d.nodes {
		lo := i * 16384 / clusterMasters
		hi := (i+1)*16384/clusterMasters - 1
		if _, err := n.command(fmt.Sprintf("CLUSTER ADDSLOTSRANGE %d %d", lo, hi)); err != nil {
			return fail(err)
		}
		if _, err := n.command(fmt.Sprintf("CLUSTER SET-CONFIG-EPOCH %d", i+1)); err != nil {
			return fail(err)
		}
	}
	for _, n := range d.nodes[1:] {
		host, port, _ := net.SplitHostPort(n.addr)
		if _, err := d.nodes[0].command("CLUSTER MEET " + host + " " + port); err != nil {
			return fail(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := d.clusterReady()
		if err == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("not ready after 30s: %w", err))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (d *redisDeploy) clusterReady() error {
	for _, n := range d.nodes {
		info, err := n.command("CLUSTER INFO")
		if err != nil {
			return err
		}
		state, known := infoValue(info, "cluster_state"), infoValue(info, "cluster_known_nodes")
		if state != "ok" || known != strconv.Itoa(len(d.nodes)) {
			return fmt.Errorf("%s: cluster_state:%s cluster_known_nodes:%s", n.addr, state, known)
		}
	}
	return nil
}

// infoValue returns field's value in INFO-style "k:v" lines.
func infoValue(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// env configures our server for this Redis.
func (d *redisDeploy) env() []string {
	if !d.cluster {
		return []string{"AUTHSERVER_REDIS_URL=" + d.nodes[0].url()}
	}
	addrs := make([]string, len(d.nodes))
	for i, n := range d.nodes {
		addrs[i] = n.addr
	}
	return []string{"AUTHSERVER_REDIS_ADDRS=" + strings.Join(addrs, ","), "AUTHSERVER_REDIS_CLUSTER=true"}
}

func (d *redisDeploy) stop() {
	for _, n := range d.nodes {
		n.stop()
	}
}

// commandStats sums INFO commandstats over every node.
func (d *redisDeploy) commandStats() (map[string]int64, error) {
	return d.sumStats((*redisServer).commandStats)
}

// errorSnapshot reads, summed over every node, the error replies by
// prefix and the failed or rejected calls by command.
func (d *redisDeploy) errorSnapshot() (redisErrSnap, error) {
	byPrefix, err := d.errorStats()
	if err != nil {
		return redisErrSnap{}, err
	}
	byCommand, err := d.sumStats(func(n *redisServer) (map[string]int64, error) {
		info, err := n.command("INFO commandstats")
		if err != nil {
			return nil, err
		}
		return parseFailedCalls(info), nil
	})
	return redisErrSnap{byPrefix: byPrefix, byCommand: byCommand}, err
}

// errorStats sums INFO errorstats (error replies by their first word:
// CROSSSLOT, NOSCRIPT, MOVED, ...) over every node.
func (d *redisDeploy) errorStats() (map[string]int64, error) {
	return d.sumStats((*redisServer).errorStats)
}

func (d *redisDeploy) sumStats(f func(*redisServer) (map[string]int64, error)) (map[string]int64, error) {
	out := map[string]int64{}
	for _, n := range d.nodes {
		m, err := f(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.addr, err)
		}
		for k, v := range m {
			out[k] += v
		}
	}
	return out, nil
}

// monitors is MONITOR attached to every node: a cluster client sends each
// command to the master of its key's slot.
type monitors []*monitor

func (d *redisDeploy) startMonitor() (monitors, error) {
	var ms monitors
	for _, n := range d.nodes {
		m, err := n.startMonitor()
		if err != nil {
			ms.stop()
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// stop detaches every monitor and returns the client commands summed.
func (ms monitors) stop() map[string]int64 {
	time.Sleep(200 * time.Millisecond) // lines already sent are still arriving
	out := map[string]int64{}
	for _, m := range ms {
		for k, v := range m.detach() {
			out[k] += v
		}
	}
	return out
}

// countDelta is after − before for each key, keeping only growth.
func countDelta(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// command sends one inline command and returns the reply's payload (a bulk
// string's text or a simple reply's line). The benchmark needs only PING and
// INFO, so a full client would be more than the job.
func (r *redisServer) command(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis: unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

// commandStats returns the calls of every command from INFO commandstats.
// Commands run inside Lua scripts are counted there too.
func (r *redisServer) commandStats() (map[string]int64, error) {
	info, err := r.command("INFO commandstats")
	if err != nil {
		return nil, err
	}
	return parseCommandStats(info), nil
}

// errorStats returns the error replies by prefix from INFO errorstats.
func (r *redisServer) errorStats() (map[string]int64, error) {
	info, err := r.command("INFO errorstats")
	if err != nil {
		return nil, err
	}
	return parseErrorStats(info), nil
}

// parseErrorStats reads lines like "errorstat_CROSSSLOT:count=3".
func parseErrorStats(info string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "errorstat_") {
			continue
		}
		if v, ok := strings.CutPrefix(rest, "count="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			out[strings.TrimPrefix(name, "errorstat_")] = n
		}
	}
	return out
}

// parseFailedCalls returns rejected_calls + failed_calls of every command
// from INFO commandstats that has any.
func parseFailedCalls(info string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var n int64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k == "rejected_calls" || k == "failed_calls" {
				c, _ := strconv.ParseInt(v, 10, 64)
				n += c
			}
		}
		if n > 0 {
			out[strings.TrimPrefix(name, "cmdstat_")] = n
		}
	}
	return out
}

func parseCommandStats(info string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}

// statsDelta is the calls made between two commandstats snapshots, less
// the benchmark's own INFO.
func statsDelta(before, after map[string]int64) int64 {
	var n int64
	for k, v := range after {
		if k == "info" {
			continue
		}
		n += v - before[k]
	}
	return n
}

// monitor counts the commands clients send to Redis while it is attached,
// telling them from the commands Lua scripts run (MONITOR marks those
// "[0 lua]"): INFO commandstats cannot make that split, and it is the
// client's commands (round trips, barring pipelines) that cost latency.
type monitor struct {
	conn  net.Conn
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func (r *redisServer) startMonitor() (*monitor, error) {
	c, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte("MONITOR\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		c.Close()
		return nil, fmt.Errorf("redis MONITOR: %q %v", line, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	m := &monitor{conn: c, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			m.mu.Lock()
			m.lines = append(m.lines, strings.TrimRight(line, "\r\n"))
			m.mu.Unlock()
		}
	}()
	return m, nil
}

// detach closes the stream and returns the client commands (not those
// run by scripts) by name; monitors.stop waits for it to go quiet first.
func (m *monitor) detach() map[string]int64 {
	m.conn.Close()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return countMonitorLines(m.lines)
}

// countMonitorLines reads lines like
//
//	1700000000.123456 [0 127.0.0.1:51234] "evalsha" "ab12..." "1" ...
//	1700000000.123470 [0 lua] "hget" ...
//
// and counts the first kind by command name.
func countMonitorLines(lines []string) map[string]int64 {
	out := map[string]int64{}
	for _, l := range lines {
		open := strings.IndexByte(l, '[')
		closing := strings.IndexByte(l, ']')
		if open < 0 || closing < open {
			continue
		}
		src := strings.Fields(l[open+1 : closing])
		if len(src) < 2 || src[1] == "lua" {
			continue
		}
		rest := strings.TrimSpace(l[closing+1:])
		name, _, _ := strings.Cut(strings.TrimPrefix(rest, `"`), `"`)
		out[strings.ToLower(name)]++
	}
	return out
}

// formatCounts renders per-request command counts, most frequent first:
// "evalsha 1, get 1".
func formatCounts(counts map[string]int64, requests int) string {
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range counts {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %s", e.k, trimFloat(float64(e.v)/float64(requests))))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// trimFloat prints f to two decimals without trailing zeros.
func trimFloat(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}
