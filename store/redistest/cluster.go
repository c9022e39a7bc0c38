package redistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodeTimeout is cluster-node-timeout in ms: a killed master is
// replaced by its replica after about twice this. Shorter would fail over
// sooner but risks false failovers when a loaded CI machine stalls a node.
const clusterNodeTimeout = 2000

// Cluster is a Redis Cluster started for a test.
type Cluster struct {
	// Addrs lists every node (masters and replicas, as redis-cli placed
	// them), in start order. Give them all to a cluster client.
	Addrs []string

	nodes    map[string]*node
	masters  int
	replicas int // per master, as started
}

// StartCluster starts masters*(1+replicasPerMaster) cluster nodes, joins
// them with `redis-cli --cluster create`, and returns once every node reports
// cluster_state:ok and sees the whole topology, and every master has its
// replicas online. masters must be at least 3 (a Redis Cluster needs three).
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	if masters < 3 || replicasPerMaster < 0 {
		t.Fatalf("redistest: StartCluster(%d, %d): need at least 3 masters and no negative replica count", masters, replicasPerMaster)
	}
	binary(t, "redis-cli")
	total := masters * (1 + replicasPerMaster)
	root := t.TempDir()
	nodes := startNodes(t, root, total, func(i int) spec {
		return spec{name: fmt.Sprintf("cluster%d", i), bus: true, args: func(port int, _ string) ([]string, error) {
			return append(baseArgs(port),
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeout),
			), nil
		}}
	})
	c := &Cluster{nodes: map[string]*node{}, masters: masters, replicas: replicasPerMaster}
	for _, n := range nodes {
		c.Addrs = append(c.Addrs, n.addr)
		c.nodes[n.addr] = n
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	if out, err := redisCli(ctx, t, args...); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := waitFor(30*time.Second, c.healthy); err != nil {
		t.Fatalf("redistest: cluster not ready: %v", err)
	}
	return c
}

// healthy checks every node: cluster_state:ok; its view of the cluster
// complete (every master with slots, every replica attached to a master);
// and, on a master, its replicas online. A replica alone may report its
// link up while its master still waits to send it the data set, and one
// node's view may lag another's, so each is asked.
func (c *Cluster) healthy() error {
	for _, addr := range c.Addrs {
		if err := c.nodeHealthy(addr); err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
	}
	return nil
}

func (c *Cluster) nodeHealthy(addr string) error {
	ctx, cancel := quickCtx()
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if s := infoField(info, "cluster_state"); s != "ok" {
		return fmt.Errorf("cluster_state:%s", s)
	}
	text, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	view, err := parseClusterNodes(text)
	if err != nil {
		return err
	}
	masters, replicas := 0, 0
	for _, n := range view {
		switch {
		case n.failed:
		case n.master && len(n.slots) > 0:
			masters++
		case !n.master && n.masterID != "":
			replicas++
		}
	}
	if masters != c.masters || replicas != c.masters*c.replicas {
		return fmt.Errorf("sees %d masters and %d replicas, want %d and %d", masters, replicas, c.masters, c.masters*c.replicas)
	}
	repl, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	switch infoField(repl, "role") {
	case "slave":
		if infoField(repl, "master_link_status") != "up" {
			return errors.New("replica link to master not up")
		}
	case "master":
		states, _ := replicaStates(repl)
		online := 0
		for _, s := range states {
			if s == "online" {
				online++
			}
		}
		if online != c.replicas {
			return fmt.Errorf("master has %d of %d replicas online (%v)", online, c.replicas, states)
		}
	}
	return nil
}

// liveAddrs returns the nodes not killed, in start order.
func (c *Cluster) liveAddrs() []string {
	var out []string
	for _, a := range c.Addrs {
		if !c.nodes[a].exited() {
			out = append(out, a)
		}
	}
	return out
}

// Client returns a cluster client on every node, closed when the test ends.
// ClusterStateReloadInterval is one second: with go-redis's 60 s default a
// client keeps dialing a killed master for about a minute, because a dial
// error does not reload the topology.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                      c.Addrs,
		ClusterStateReloadInterval: time.Second,
	})
	t.Cleanup(func() { cl.Close() })
	return cl
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr string
	master   bool
	failed   bool
	masterID string   // for a replica
	slots    [][2]int // inclusive ranges, for a master
}

// view reads CLUSTER NODES from the first live node that answers.
func (c *Cluster) view() ([]clusterNode, error) {
	var lastErr error = errors.New("no live node")
	for _, addr := range c.liveAddrs() {
		ctx, cancel := quickCtx()
		cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		text, err := cl.ClusterNodes(ctx).Result()
		cl.Close()
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		return parseClusterNodes(text)
	}
	return nil, lastErr
}

func parseClusterNodes(text string) ([]clusterNode, error) {
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("bad CLUSTER NODES line %q", line)
		}
		// ip:port@cport[,hostname]
		addr, _, _ := strings.Cut(f[1], "@")
		flags := strings.Split(f[2], ",")
		n := clusterNode{
			id:     f[0],
			addr:   addr,
			master: slices.Contains(flags, "master"),
			failed: slices.Contains(flags, "fail") || slices.Contains(flags, "fail?"),
		}
		if f[3] != "-" {
			n.masterID = f[3]
		}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") { // a slot being migrated
				continue
			}
			lo, hi, isRange := strings.Cut(s, "-")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("bad slot %q", s)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil {
					return nil, fmt.Errorf("bad slot %q", s)
				}
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		out = append(out, n)
	}
	return out, nil
}

// Masters returns the addresses of the masters that serve slots and are not
// marked failed, sorted.
func (c *Cluster) Masters(t testing.TB) []string {
	t.Helper()
	v, err := c.view()
	if err != nil {
		t.Fatalf("redistest: CLUSTER NODES: %v", err)
	}
	var out []string
	for _, n := range v {
		if n.master && !n.failed && len(n.slots) > 0 {
			out = append(out, n.addr)
		}
	}
	slices.Sort(out)
	return out
}

// MasterFor returns the address of the master serving key's slot.
func (c *Cluster) MasterFor(t testing.TB, key string) string {
	t.Helper()
	m, _, err := c.masterFor(key)
	if err != nil {
		t.Fatalf("redistest: master for %q: %v", key, err)
	}
	return m.addr
}

// masterFor returns the master serving key and how many replicas it has,
// by the view (the master's own INFO may not list a replica that is
// reconnecting).
func (c *Cluster) masterFor(key string) (clusterNode, int, error) {
	live := c.liveAddrs()
	if len(live) == 0 {
		return clusterNode{}, 0, errors.New("no live node")
	}
	ctx, cancel := quickCtx()
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: live[0], MaxRetries: -1})
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	cl.Close()
	if err != nil {
		return clusterNode{}, 0, err
	}
	v, err := c.view()
	if err != nil {
		return clusterNode{}, 0, err
	}
	for _, n := range v {
		if !n.master || n.failed {
			continue
		}
		for _, r := range n.slots {
			if int(slot) >= r[0] && int(slot) <= r[1] {
				replicas := 0
				for _, o := range v {
					if o.masterID == n.id && !o.failed {
						replicas++
					}
				}
				return n, replicas, nil
			}
		}
	}
	return clusterNode{}, 0, fmt.Errorf("no live master serves slot %d", slot)
}

// KillMaster kills (SIGKILL) the master serving key's slot and returns its
// address. It first waits until the master's replicas acknowledged every
// write so far, so a promoted replica holds what the test wrote.
func (c *Cluster) KillMaster(t testing.TB, key string) string {
	t.Helper()
	m, replicas, err := c.masterFor(key)
	if err != nil {
		t.Fatalf("redistest: master for %q: %v", key, err)
	}
	if replicas > 0 {
		if err := waitReplicated(m.addr, replicas, 10*time.Second); err != nil {
			t.Fatalf("redistest: replicas of %s not caught up: %v", m.addr, err)
		}
	}
	c.Kill(t, m.addr)
	return m.addr
}

// Kill stops the node at addr at once (SIGKILL) and reaps it.
func (c *Cluster) Kill(t testing.TB, addr string) {
	t.Helper()
	n, ok := c.nodes[addr]
	if !ok {
		t.Fatalf("redistest: no cluster node at %s", addr)
	}
	n.kill()
}
