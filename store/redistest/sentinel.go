package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Sentinel-managed group started for a test: one master, one
// replica and three sentinels with quorum 2, down-after-milliseconds 1000.
type Sentinel struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// SentinelAddrs are the three sentinels' addresses.
	SentinelAddrs []string
	// DataAddrs are the data nodes: the first master, then its replica.
	DataAddrs []string

	// ReplicaLink, with StartSentinelLinked, is the proxy the replica
	// reaches its master through: holding it (Blackhole) makes the
	// replica fall behind, as asynchronous replication can.
	ReplicaLink *FaultProxy

	data      map[string]*node
	sentinels []*node
}

const sentinelMasterName = "authserver-test"

// StartSentinel starts the group and returns once the replica is in sync and
// the sentinels answer. Sentinels find each other within about two seconds
// more; KillMaster waits for that, so tests that never fail over do not.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return startSentinel(t, false)
}

// StartSentinelLinked is StartSentinel with the replica's link to its
// master through a FaultProxy (Sentinel.ReplicaLink). Clients and
// sentinels still reach the replica at its own address.
func StartSentinelLinked(t testing.TB) *Sentinel {
	t.Helper()
	return startSentinel(t, true)
}

func startSentinel(t testing.TB, linked bool) *Sentinel {
	t.Helper()
	root := t.TempDir()
	master := startNodes(t, root, 1, func(int) spec {
		return spec{name: "master", args: func(port int, _ string) ([]string, error) {
			return baseArgs(port), nil
		}}
	})[0]
	var link *FaultProxy
	upstream := master.port
	if linked {
		link = StartFaultProxy(t, master.addr)
		upstream = link.ln.Addr().(*net.TCPAddr).Port
	}
	replica := startNodes(t, root, 1, func(int) spec {
		return spec{name: "replica", args: func(port int, _ string) ([]string, error) {
			return append(baseArgs(port), "--replicaof", "127.0.0.1", strconv.Itoa(upstream)), nil
		}}
	})[0]
	s := &Sentinel{
		MasterName:  sentinelMasterName,
		DataAddrs:   []string{master.addr, replica.addr},
		data:        map[string]*node{master.addr: master, replica.addr: replica},
		ReplicaLink: link,
	}
	// Sentinels learn replicas from the master's INFO, read as soon as they
	// connect: a replica already linked is known at once.
	if err := waitFor(10*time.Second, func() error { return replicaUp(replica.addr) }); err != nil {
		t.Fatalf("redistest: replica %s: %v", replica.addr, err)
	}
	s.sentinels = startNodes(t, root, 3, func(i int) spec {
		return spec{name: fmt.Sprintf("sentinel%d", i), args: func(port int, dir string) ([]string, error) {
			conf := filepath.Join(dir, "sentinel.conf")
			text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %q
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 10000
sentinel parallel-syncs %[3]s 1
`, port, dir, sentinelMasterName, master.port)
			// Sentinel rewrites its config file, so each gets its own.
			return []string{conf, "--sentinel"}, os.WriteFile(conf, []byte(text), 0o644)
		}}
	})
	for _, n := range s.sentinels {
		s.SentinelAddrs = append(s.SentinelAddrs, n.addr)
	}
	return s
}

func replicaUp(addr string) error {
	ctx, cancel := quickCtx()
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	info, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if s := infoField(info, "master_link_status"); s != "up" {
		return fmt.Errorf("master_link_status:%s", s)
	}
	return nil
}

// Client returns a go-redis failover client for the group, closed when the
// test ends.
func (s *Sentinel) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    s.MasterName,
		SentinelAddrs: s.SentinelAddrs,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// MasterAddr asks the sentinels which node is the master now.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	addr, err := s.masterAddr()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return addr
}

func (s *Sentinel) masterAddr() (string, error) {
	var lastErr error = errors.New("no live sentinel")
	for _, n := range s.sentinels {
		if n.exited() {
			continue
		}
		ctx, cancel := quickCtx()
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
		hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		sc.Close()
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if len(hp) != 2 {
			lastErr = fmt.Errorf("get-master-addr-by-name answered %q", hp)
			continue
		}
		return net.JoinHostPort(hp[0], hp[1]), nil
	}
	return "", lastErr
}

// ready reports whether every sentinel sees the other two and the replica,
// which a failover needs (quorum 2, and a majority to elect a leader).
func (s *Sentinel) ready() error {
	for _, n := range s.sentinels {
		ctx, cancel := quickCtx()
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
		m, err := sc.Master(ctx, s.MasterName).Result()
		sc.Close()
		cancel()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", n.addr, err)
		}
		if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
			return fmt.Errorf("sentinel %s sees %s other sentinels and %s replicas", n.addr, m["num-other-sentinels"], m["num-slaves"])
		}
	}
	return nil
}

// KillMaster waits until the sentinels are ready to fail over and the
// replica acknowledged every write so far, then kills the current master
// (SIGKILL) and returns its address.
func (s *Sentinel) KillMaster(t testing.TB) string {
	t.Helper()
	if err := waitFor(15*time.Second, s.ready); err != nil {
		t.Fatalf("redistest: sentinels not ready: %v", err)
	}
	addr := s.MasterAddr(t)
	n, ok := s.data[addr]
	if !ok {
		t.Fatalf("redistest: sentinels name %s, not one of %v", addr, s.DataAddrs)
	}
	if err := waitReplicated(addr, 1, 10*time.Second); err != nil {
		t.Fatalf("redistest: replica of %s not caught up: %v", addr, err)
	}
	n.kill()
	return addr
}

// WaitReady waits until the sentinels could fail over (each sees the other
// two and the replica); KillMaster does this itself.
func (s *Sentinel) WaitReady(t testing.TB) {
	t.Helper()
	if err := waitFor(15*time.Second, s.ready); err != nil {
		t.Fatalf("redistest: sentinels not ready: %v", err)
	}
}

// CrashMaster kills the current master (SIGKILL) at once, without waiting
// for its replica to catch up: what the replica has not received is lost,
// as in a real crash under asynchronous replication. Call WaitReady first
// if the sentinels must be able to fail over.
func (s *Sentinel) CrashMaster(t testing.TB) string {
	t.Helper()
	addr := s.MasterAddr(t)
	n, ok := s.data[addr]
	if !ok {
		t.Fatalf("redistest: sentinels name %s, not one of %v", addr, s.DataAddrs)
	}
	n.kill()
	return addr
}

// WaitFailover waits until the sentinels name a master other than old and
// returns it.
func (s *Sentinel) WaitFailover(t testing.TB, old string, timeout time.Duration) string {
	t.Helper()
	var now string
	err := waitFor(timeout, func() error {
		a, err := s.masterAddr()
		if err != nil {
			return err
		}
		if a == old {
			return fmt.Errorf("master still %s", a)
		}
		now = a
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: no failover: %v", err)
	}
	return now
}

// PID is the process of the data node at addr (to stop or stall it).
func (s *Sentinel) PID(t testing.TB, addr string) int {
	t.Helper()
	n, ok := s.data[addr]
	if !ok {
		t.Fatalf("redistest: no data node at %s", addr)
	}
	return n.cmd.Process.Pid
}
