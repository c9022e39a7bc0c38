package redistest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gone reports whether pid no longer exists at all: killed and reaped, not a
// zombie (kill -0 still succeeds on a zombie).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestStandalone(t *testing.T) {
	t.Parallel()
	var pid int
	var addr string
	t.Run("serve", func(t *testing.T) {
		start := time.Now()
		s := StartStandalone(t)
		t.Logf("standalone up in %v at %s", time.Since(start), s.Addr)
		addr, pid = s.Addr, s.PID()
		if _, port, _ := net.SplitHostPort(s.Addr); port == "6379" {
			t.Fatalf("started on the default port")
		}
		if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
			t.Fatalf("URL() = %q", s.URL())
		}
		c := s.Client(t)
		if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
			t.Fatalf("GET = %q, %v", v, err)
		}
		// No persistence: nothing may be written to disk behind the test.
		if cfg, err := c.ConfigGet(t.Context(), "save").Result(); err != nil || cfg["save"] != "" {
			t.Fatalf("CONFIG GET save = %v, %v; want empty", cfg, err)
		}
	})
	if !gone(pid) {
		t.Fatalf("redis-server %d still exists after the test's cleanup", pid)
	}
	if err := ping(addr); err == nil {
		t.Fatalf("%s still answers after cleanup", addr)
	}
}

func TestStandaloneKill(t *testing.T) {
	t.Parallel()
	s := StartStandalone(t)
	s.Kill()
	if !gone(s.PID()) {
		t.Fatalf("Kill left process %d behind", s.PID())
	}
	s.Kill() // idempotent; the cleanup calls it again too
}

func TestRetryOnPortClash(t *testing.T) {
	t.Parallel()
	// Hold a port, and have the first attempt use it: redis-server exits
	// ("Address already in use") and the next attempt gets a new port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).Port
	attempts := 0
	nodes := startNodes(t, t.TempDir(), 1, func(int) spec {
		return spec{name: "clash", args: func(port int, _ string) ([]string, error) {
			attempts++
			if attempts == 1 {
				port = held
			}
			return baseArgs(port), nil
		}}
	})
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
	if nodes[0].port == held {
		t.Fatalf("started on the held port %d", held)
	}
	if err := ping(nodes[0].addr); err != nil {
		t.Fatalf("retried server does not answer: %v", err)
	}
}

func TestMissingBinaryFails(t *testing.T) {
	// Not parallel: it changes PATH for the process.
	t.Setenv("PATH", t.TempDir())
	ft := &fatalTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		binary(ft, "redis-server")
	}()
	if !strings.Contains(ft.msg, "make test") {
		t.Fatalf("missing redis-server: message %q does not say to run make test", ft.msg)
	}
}

// fatalTB records the Fatalf message and stops the helper by panicking.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartCluster(t, 3, 0)
	t.Logf("3-master cluster up in %v", time.Since(start))
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v", c.Addrs)
	}
	if m := c.Masters(t); len(m) != 3 {
		t.Fatalf("Masters = %v, want 3", m)
	}
	cl := c.Client(t)
	ctx := t.Context()
	// Keys spread over slots each land on their own master.
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	// A real cluster refuses a multi-key command across slots; this is what
	// the store's tests rely on to catch a missing hash tag.
	node := NewClient(t, c.MasterFor(t, "a"))
	err := node.Eval(ctx, "return redis.call('MSET', KEYS[1], 1, KEYS[2], 1)", []string{"a", "b"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("cross-slot script: got %v, want CROSSSLOT", err)
	}
	if err := cl.Eval(ctx, "return redis.call('MSET', KEYS[1], 1, KEYS[2], 1)", []string{"{t}a", "{t}b"}).Err(); err != nil {
		t.Fatalf("same-slot script: %v", err)
	}
	// Dump reads every master: keys of many slots, one of each type.
	var markers []string
	for _, tag := range []string{"a", "b", "c", "d", "e", "f"} {
		markers = append(markers, writeEveryType(t, cl, tag)...)
	}
	wantDumped(t, c.Dump, markers)
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := StartSentinel(t)
	t.Logf("sentinel group up in %v", time.Since(start))
	if len(s.SentinelAddrs) != 3 || len(s.DataAddrs) != 2 {
		t.Fatalf("SentinelAddrs = %v, DataAddrs = %v", s.SentinelAddrs, s.DataAddrs)
	}
	if got := s.MasterAddr(t); got != s.DataAddrs[0] {
		t.Fatalf("MasterAddr = %s, want %s", got, s.DataAddrs[0])
	}
	c := s.Client(t)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the failover client: %v", err)
	}
	// The write reached the master, and from it the replica.
	replica := NewClient(t, s.DataAddrs[1])
	err := waitFor(5*time.Second, func() error {
		v, err := replica.Get(t.Context(), "k").Result()
		if err == nil && v != "v" {
			err = errors.New("wrong value " + v)
		}
		return err
	})
	if err != nil {
		t.Fatalf("replica never got the write: %v", err)
	}
	if err := replica.Set(t.Context(), "x", "y", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("write to the replica: got %v, want READONLY", err)
	}
}

func TestParseClusterNodes(t *testing.T) {
	text := `07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002,host master - 0 1426238316232 2 connected 5461-10922
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 16383 [93-<-292f]
6ec2 127.0.0.1:30005@40005 master,fail - 1426238316232 1426238316232 5 disconnected`
	v, err := parseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 4 {
		t.Fatalf("%d nodes", len(v))
	}
	if v[0].master || v[0].masterID != "e7d1" || v[0].addr != "127.0.0.1:30004" {
		t.Fatalf("replica parsed as %+v", v[0])
	}
	if !v[1].master || v[1].addr != "127.0.0.1:30002" || len(v[1].slots) != 1 || v[1].slots[0] != [2]int{5461, 10922} {
		t.Fatalf("master parsed as %+v", v[1])
	}
	if len(v[2].slots) != 2 || v[2].slots[1] != [2]int{16383, 16383} {
		t.Fatalf("single slot parsed as %+v", v[2])
	}
	if !v[3].failed {
		t.Fatalf("failed master parsed as %+v", v[3])
	}
	if _, err := parseClusterNodes("short line"); err == nil {
		t.Fatal("a short line parsed without error")
	}
}

// A durable server keeps what it acknowledged across Kill and Restart
// without any SAVE.
func TestDurableSurvivesKill(t *testing.T) {
	t.Parallel()
	s := StartDurable(t)
	if err := s.Client(t).Set(t.Context(), "k", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := s.Restart(t); err != nil {
		t.Fatal(err)
	}
	if v, err := NewClient(t, s.Addr).Get(t.Context(), "k").Result(); err != nil || v != "kept" {
		t.Fatalf("after Kill and Restart: GET = %q, %v; want kept", v, err)
	}
}

// With its link held, the replica misses what the master acknowledged;
// a crash then loses it, and the promoted replica does not hold it.
func TestSentinelLinkedCrashLosesWrites(t *testing.T) {
	t.Parallel()
	s := StartSentinelLinked(t)
	c := s.Client(t)
	ctx := t.Context()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.WaitReady(t)
	if err := waitReplicated(s.DataAddrs[0], 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s.ReplicaLink.Blackhole()
	if err := c.Set(ctx, "unreplicated", "1", 0).Err(); err != nil {
		t.Fatalf("write with the replica held: %v", err)
	}
	old := s.CrashMaster(t)
	s.ReplicaLink.DropAll() // what it held dies with the master
	now := s.WaitFailover(t, old, 20*time.Second)
	if now != s.DataAddrs[1] {
		t.Fatalf("promoted %s, want the replica %s", now, s.DataAddrs[1])
	}
	promoted := NewClient(t, now)
	if err := waitFor(10*time.Second, func() error { return promoted.Set(ctx, "probe", "1", 0).Err() }); err != nil {
		t.Fatalf("promoted replica takes no writes: %v", err)
	}
	if v, err := promoted.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("replicated key on the promoted replica: %q, %v", v, err)
	}
	if n, err := promoted.Exists(ctx, "unreplicated").Result(); err != nil || n != 0 {
		t.Fatalf("unreplicated key on the promoted replica: exists %d, %v; want lost", n, err)
	}
}
