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
		rdir := filepath.Join(dir, "redis-"+strconv.Itoa(port))
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return nil, err
		}
		args := []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", rdir,
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

// stop waits for the stream to go quiet, detaches, and returns the client
// commands (not those run by scripts) by name.
func (m *monitor) stop() map[string]int64 {
	time.Sleep(200 * time.Millisecond) // lines already sent are still arriving
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
