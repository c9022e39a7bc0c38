package reliability

import (
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/config"
	redisstore "authserver/store/redis"
	"authserver/store/redistest"
	"authserver/tokens"
)

// TestRedisKilled: standalone Redis (appendfsync always) SIGKILLed for
// 4 s under load, then restarted on the same port with its data.
func TestRedisKilled(t *testing.T) {
	t.Parallel()
	r := redistest.StartDurable(t)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	scenario{name: "a. standalone Redis SIGKILLed 4 s", node: n, inject: func(t *testing.T, l *load) int {
		r.Kill()
		time.Sleep(4 * time.Second)
		if err := r.Restart(t); err != nil {
			t.Fatal(err)
		}
		l.rec.healed()
		return -1
	}}.run(t)
}

// replicaLag is the one-way delay on the replica's link to its master in
// the Sentinel tests: a replica that is behind, as asynchronous
// replication allows.
const replicaLag = 150 * time.Millisecond

// TestSentinelFailover: the master SIGKILLed under load while its replica
// lags (its link delayed replicaLag each way); the node, connected through
// the sentinels, follows the promotion. Rotations the dead master
// acknowledged and the replica never got are lost: the chains holding
// their tokens must be recovered, not revoked.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	f := sentinelFailover(t, "b. Sentinel failover, replica lagging", nil)
	// The fault must have bitten, or the test proves nothing.
	if f.ackedLost == 0 {
		t.Errorf("no acknowledged rotation lost: the replica was not behind when the master died")
	}
}

// TestSentinelFailoverWaitReplicas: the same with redis.wait_replicas 1:
// a rotation is answered once the replica has it, so none is lost.
func TestSentinelFailoverWaitReplicas(t *testing.T) {
	t.Parallel()
	f := sentinelFailover(t, "b. Sentinel failover, replica lagging, wait_replicas 1", func(c *config.Config) {
		// The timeout covers the lagging link's round trip; past it the
		// answer would go out unacknowledged.
		c.Redis.WaitReplicas, c.Redis.WaitTimeout = 1, time.Second
	})
	if f.ackedLost != 0 {
		t.Errorf("%d acknowledged rotations lost although every write waited for the replica", f.ackedLost)
	}
}

func sentinelFailover(t *testing.T, name string, tweak func(*config.Config)) figures {
	t.Helper()
	s := redistest.StartSentinelLinked(t)
	var prefix string
	n := startNode(t, func(c *config.Config) {
		c.Redis.MasterName, c.Redis.Addrs = s.MasterName, s.SentinelAddrs
		if tweak != nil {
			tweak(c)
		}
		prefix = c.Redis.KeyPrefix
	})
	return scenario{name: name, node: n, inject: func(t *testing.T, l *load) int {
		s.WaitReady(t)
		s.ReplicaLink.SetLatency(replicaLag, replicaLag)
		time.Sleep(time.Second)
		old := s.CrashMaster(t)
		s.ReplicaLink.DropAll() // what was on its way to the replica dies with the master
		// What the replica holds now is all the promoted master will have;
		// no request reaches it before the promotion.
		lost := l.ackedLost(t, replicaView(t, s.DataAddrs[1], prefix))
		s.WaitFailover(t, old, 20*time.Second)
		l.rec.healed()
		return lost
	}}.run(t)
}

// replicaView reads the families a replica holds, with the store's own
// decoding.
func replicaView(t *testing.T, addr, prefix string) tokens.RefreshStore {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return redisstore.New(c, prefix)
}

// TestClusterFailover: Redis Cluster, 3 masters with a replica each; the
// master holding the first chain's family SIGKILLed under load (after its
// replica caught up); its replica is promoted.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3, 1)
	n := startNode(t, func(cfg *config.Config) { cfg.Redis.Cluster, cfg.Redis.Addrs = true, c.Addrs })
	scenario{name: "c. Cluster master SIGKILLed", node: n, inject: func(t *testing.T, l *load) int {
		old := c.KillMaster(t, "{fam:"+l.chains[0].family+"}")
		promoted := waitUntil(30*time.Second, func() bool {
			m := c.Masters(t)
			return len(m) == 3 && !slices.Contains(m, old)
		})
		if !promoted {
			t.Fatalf("no replica took over from %s", old)
		}
		l.rec.healed()
		return -1
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
	scenario{name: "d. proxy: replies +300 ms, 3 resets, 2 s blackhole", node: n, inject: func(t *testing.T, l *load) int {
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
		return -1
	}}.run(t)
}
