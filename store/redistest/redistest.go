// Package redistest starts real redis-server processes for tests: a
// standalone server, a Redis Cluster, or a Sentinel group. Every process runs
// in the foreground under the test, on a port picked free at start, with its
// working directory in t.TempDir(), and is killed and reaped in t.Cleanup.
//
// The helpers never touch a server they did not start: no fixed port (6379
// may serve something else on the machine), no FLUSHALL. They need
// redis-server (and redis-cli for a cluster) on PATH; without them the test
// fails, telling to run `make test`, which installs them. Tests never skip.
//
// Why real servers: only a real cluster rejects a multi-key script whose keys
// lack a shared hash tag (CROSSSLOT), and only real processes can be killed
// to test failover.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// startAttempts bounds retries on a new port when redis-server exits at
	// start (its port was taken between our check and its bind).
	startAttempts = 8
	// readyTimeout bounds how long one process may take to answer PING.
	readyTimeout = 10 * time.Second
	// busOffset is where Redis Cluster puts a node's bus port.
	busOffset = 10000
	// installHint says what to do when a binary is missing.
	installHint = "redis-server and redis-cli must be on PATH; run `make test`, which installs them"
)

// binary returns the path of name, failing the test (never skipping) when it
// is missing.
func binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("redistest: %s not found (%v): %s", name, err, installHint)
	}
	return p
}

// node is one redis-server process (data node or sentinel).
type node struct {
	port int
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned: the process is reaped
	log  string        // path of its combined stdout/stderr

	killOnce sync.Once
}

// kill sends SIGKILL and waits until the process is reaped, so no zombie is
// left behind. Safe to call more than once.
func (n *node) kill() {
	n.killOnce.Do(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
	})
}

// exited reports whether the process has ended.
func (n *node) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// logTail returns the last lines the process printed, for failure messages.
func (n *node) logTail() string {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a port nothing listens on now (and, with bus, whose
// cluster bus port is free too). Binding port 0 asks the kernel; redis-server
// itself cannot be given port 0 (it then listens nowhere and exits).
func freePort(bus bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		if port+busOffset > 65535 {
			l.Close()
			continue
		}
		lb, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+busOffset))
		l.Close()
		if err != nil {
			continue
		}
		lb.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair found")
}

// spec says how to start one process: args builds the command line for a
// given port (config files, if any, are written by it into dir).
type spec struct {
	name string // for messages and the directory name
	bus  bool   // cluster node: needs port+10000 free
	args func(port int, dir string) ([]string, error)
}

// startNode starts one process and waits until it answers PING, retrying on
// a new port when it exits early (port taken). The process is killed and
// reaped in t.Cleanup. It returns an error rather than failing the test so
// that it may run on goroutines other than the test's.
func startNode(t testing.TB, bin, root string, s spec) (*node, error) {
	var lastErr error
	for range startAttempts {
		port, err := freePort(s.bus)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		dir := filepath.Join(root, fmt.Sprintf("%s-%d", s.name, port))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		args, err := s.args(port, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		n, err := spawn(bin, args, port, dir)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", s.name, err)
		}
		t.Cleanup(n.kill) // Cleanup is safe from any goroutine
		err = waitPing(n)
		if err == nil {
			return n, nil
		}
		lastErr = fmt.Errorf("%s on port %d: %w\n%s", s.name, port, err, n.logTail())
		n.kill()
		if !strings.Contains(n.logTail(), "in use") {
			// Not a port clash: another port will not help.
			break
		}
	}
	return nil, lastErr
}

// spawn starts redis-server in the foreground with its output in dir.
func spawn(bin string, args []string, port int, dir string) (*node, error) {
	logPath := filepath.Join(dir, "redis.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	n := &node{
		port: port,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		dir:  dir,
		cmd:  cmd,
		done: make(chan struct{}),
		log:  logPath,
	}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(n.done)
	}()
	return n, nil
}

// waitPing polls PING over a raw connection until the process answers, exits
// or readyTimeout passes.
func waitPing(n *node) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		if n.exited() {
			return errors.New("process exited before answering PING")
		}
		if err := ping(n.addr); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v: %w", readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends one inline PING and expects +PONG. A raw connection keeps the
// readiness check free of any client's retry or pool behaviour.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// baseArgs are the flags every data node gets: loopback only, no persistence
// (nothing to clean up, nothing slow), replicas sync at once.
func baseArgs(port int) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--repl-diskless-sync-delay", "0",
	}
}

// startNodes starts count processes at once (each start is mostly waiting)
// and returns them in order; any failure fails the test.
func startNodes(t testing.TB, root string, count int, mk func(i int) spec) []*node {
	t.Helper()
	bin := binary(t, "redis-server")
	nodes := make([]*node, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Go(func() { nodes[i], errs[i] = startNode(t, bin, root, mk(i)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return nodes
}

// redisCli runs redis-cli with args and returns its combined output.
func redisCli(ctx context.Context, t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := exec.CommandContext(ctx, binary(t, "redis-cli"), args...).CombinedOutput()
	return string(out), err
}

// NewClient returns a go-redis client for one server at addr, closed in
// t.Cleanup.
func NewClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond every 50 ms until it returns nil or timeout passes; the
// last error is reported.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// infoField returns one field of an INFO reply ("" when absent).
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// quickCtx bounds one administrative command.
func quickCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Second)
}

// replicaStates returns, from a master's INFO replication, each replica's
// state and acknowledged offset.
func replicaStates(info string) (states []string, offsets []int64) {
	n, _ := strconv.Atoi(infoField(info, "connected_slaves"))
	for i := range n {
		// slaveN:ip=...,port=...,state=online,offset=N,lag=0
		var state string
		var off int64 = -1
		for _, kv := range strings.Split(infoField(info, fmt.Sprintf("slave%d", i)), ",") {
			if v, ok := strings.CutPrefix(kv, "state="); ok {
				state = v
			}
			if v, ok := strings.CutPrefix(kv, "offset="); ok {
				off, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		states = append(states, state)
		offsets = append(offsets, off)
	}
	return states, offsets
}

// waitReplicated waits until at least replicas replicas of the master at
// addr are online and have acknowledged the master's replication offset as
// it is now, so a replica promoted after the master dies holds every write
// made before this call. (WAIT cannot do this from a fresh connection: it
// waits only for the calling connection's own writes.) Replicas report
// their offset about once a second.
func waitReplicated(addr string, replicas int, timeout time.Duration) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := quickCtx()
	info, err := cl.Info(ctx, "replication").Result()
	cancel()
	if err != nil {
		return err
	}
	target, err := strconv.ParseInt(infoField(info, "master_repl_offset"), 10, 64)
	if err != nil {
		return fmt.Errorf("master_repl_offset: %w", err)
	}
	return waitFor(timeout, func() error {
		ctx, cancel := quickCtx()
		defer cancel()
		info, err := cl.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		states, offsets := replicaStates(info)
		acked := 0
		for i := range states {
			if states[i] == "online" && offsets[i] >= target {
				acked++
			}
		}
		if acked < replicas {
			return fmt.Errorf("%d of %d replicas online at offset %d (states %v, offsets %v)", acked, replicas, target, states, offsets)
		}
		return nil
	})
}
