package reliability

import (
	"slices"
	"testing"
	"time"

	"authserver/config"
	"authserver/store/redistest"
)

// TestRedisKilled: standalone Redis (appendfsync always) SIGKILLed for
// 4 s under load, then restarted on the same port with its data.
func TestRedisKilled(t *testing.T) {
	t.Parallel()
	r := redistest.StartDurable(t)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	scenario{name: "a. standalone Redis SIGKILLed 4 s", node: n, inject: func(t *testing.T, l *load) {
		r.Kill()
		time.Sleep(4 * time.Second)
		if err := r.Restart(t); err != nil {
			t.Fatal(err)
		}
		l.rec.healed()
	}}.run(t)
}

// TestSentinelFailover: the master SIGKILLed under load while its replica
// is behind (its replication link held for 300 ms: what asynchronous
// replication risks); the node, connected through the sentinels, follows
// the promotion. Rotations acknowledged only by the dead master are lost.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	f := sentinelFailover(t, "b. Sentinel failover, replica behind", nil)
	// The fault must have bitten, or the test proves nothing.
	if f.ackedLost == 0 {
		t.Errorf("no acknowledged rotation lost: the replica was not behind when the master died")
	}
}

func sentinelFailover(t *testing.T, name string, tweak func(*config.Config)) figures {
	t.Helper()
	s := redistest.StartSentinelLinked(t)
	n := startNode(t, func(c *config.Config) {
		c.Redis.MasterName, c.Redis.Addrs = s.MasterName, s.SentinelAddrs
		if tweak != nil {
			tweak(c)
		}
	})
	return scenario{name: name, node: n, inject: func(t *testing.T, l *load) {
		s.WaitReady(t)
		s.ReplicaLink.Blackhole()
		time.Sleep(300 * time.Millisecond)
		old := s.CrashMaster(t)
		s.ReplicaLink.DropAll() // what the link held dies with the master
		s.WaitFailover(t, old, 20*time.Second)
		l.rec.healed()
	}}.run(t)
}

// TestClusterFailover: Redis Cluster, 3 masters with a replica each; the
// master holding the first chain's family SIGKILLed under load; its
// replica is promoted.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1)
	n := startNode(t, func(cfg *config.Config) { cfg.Redis.Cluster, cfg.Redis.Addrs = true, c.Addrs })
	scenario{name: "c. Cluster master SIGKILLed", node: n, inject: func(t *testing.T, l *load) {
		old := c.KillMaster(t, "{fam:"+l.chains[0].family+"}")
		promoted := waitUntil(30*time.Second, func() bool {
			m := c.Masters(t)
			return len(m) == 3 && !slices.Contains(m, old)
		})
		if !promoted {
			t.Fatalf("no replica took over from %s", old)
		}
		l.rec.healed()
	}}.run(t)
}

// TestNetworkFaults: a fault proxy between the node and Redis delays every
// reply by 300 ms, then resets every connection three times while replies
// are held (commands executed, answers lost: go-redis retries them), then
// holds all traffic for 2 s, then heals.
func TestNetworkFaults(t *testing.T) {
	t.Parallel()
	r := redistest.StartDurable(t)
	p := redistest.StartFaultProxy(t, r.Addr)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = "redis://" + p.Addr + "/0" })
	scenario{name: "d. proxy: replies +300 ms, 3 resets, 2 s blackhole", node: n, inject: func(t *testing.T, l *load) {
		p.SetLatency(0, 300*time.Millisecond) // replies held: a reset loses executed commands' answers
		time.Sleep(time.Second)
		for range 3 {
			time.Sleep(400 * time.Millisecond)
			p.DropAll()
		}
		p.SetLatency(0, 0)
		p.Blackhole()
		time.Sleep(2 * time.Second)
		p.Heal()
		l.rec.healed()
	}}.run(t)
}
