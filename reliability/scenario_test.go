package reliability

import (
	"context"
	"testing"
	"time"

	"authserver/tokens"
)

const (
	// warmTimeout bounds the wait for every chain to rotate before the
	// fault: the load must be running when it hits.
	warmTimeout = 10 * time.Second
	// recoverTimeout bounds the wait, after the heal, for every live chain
	// to rotate again.
	recoverTimeout = 15 * time.Second
)

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// warm waits until every chain has had two rotations acknowledged.
func (l *load) warm(t *testing.T) {
	t.Helper()
	if !waitUntil(warmTimeout, func() bool { return l.rec.minAcked(l.chains) >= 2 }) {
		t.Fatalf("load did not get going before the fault:%s; %q", l.rec.summary(), l.rec.firstAnomalies())
	}
}

// ackedLost counts rotations a 200 acknowledged that st does not hold:
// per family, acknowledged rotations beyond its generation. st is what
// will serve after the fault (a replica about to be promoted), read before
// any request can reach it.
func (l *load) ackedLost(t *testing.T, st tokens.RefreshStore) int {
	t.Helper()
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	lost := 0
	for _, c := range l.chains {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		f, err := st.GetFamily(ctx, c.family)
		cancel()
		if err != nil {
			t.Fatalf("family %s after the fault: %v", c.family, err)
		}
		lost += max(0, int(c.acked-f.Generation))
	}
	return lost
}

// scenario is one fault under load against an in-process node.
type scenario struct {
	name string
	node *node
	// inject runs the fault while the load runs and calls l.rec.healed()
	// the moment it ends. It returns the acknowledged rotations the store
	// lost, or -1 where it does not measure them.
	inject func(t *testing.T, l *load) (ackedLost int)
}

// run provisions the node, drives the load through the fault and its
// recovery, measures, reports and asserts.
func (s scenario) run(t *testing.T) figures {
	t.Helper()
	n := s.node
	tn := provision(t, n.base, n.adminURL, n.app.AdminToken, chainCount)
	l := startLoad(t, n.base, tn)
	l.warm(t)
	lost := s.inject(t, l)
	waitUntil(recoverTimeout, func() bool { return l.rec.allRecovered(l.chains) })
	time.Sleep(300 * time.Millisecond) // the load goes on past the repair
	l.Stop()
	alive, why := l.finalCheck()
	f := l.figures(s.name, alive, lost, countersOf(t, n.adminURL))
	keep(t, f)
	l.verify(t, f, why)
	return f
}

func (l *load) figures(name string, alive, lost int, c counters) figures {
	f := figures{test: name, statuses: l.rec.summary(), recovery: l.rec.recovery(), chains: len(l.chains),
		alive: alive, ackedLost: lost, counters: c}
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	f.requests, f.maxLatency = l.rec.requests, l.rec.maxLatency
	return f
}

// verify asserts what every fault test promises: no request hung, every
// failure a JSON 503 with Retry-After (no 500), the node recovered after
// the heal, and no family died of the fault.
func (l *load) verify(t *testing.T, f figures, why []string) {
	t.Helper()
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	if l.rec.anomalies > 0 {
		t.Errorf("%d answers neither 200 nor a JSON 503 with Retry-After; first ones: %q", l.rec.anomalies, l.rec.samples)
	}
	if n := l.rec.byStatus[0]; n > 0 && !f.transportOK {
		t.Errorf("%d requests got no HTTP answer from a node that stayed up", n)
	}
	if f.maxLatency >= hangBound {
		t.Errorf("slowest request took %v: a request hung (bound %v)", f.maxLatency, hangBound)
	}
	if f.recovery < 0 {
		t.Errorf("no refresh succeeded after the fault healed")
	}
	if f.alive != f.chains {
		t.Errorf("%d of %d refresh chains dead after the fault:\n%s", f.chains-f.alive, f.chains, join(why))
	}
	if f.reuse != 0 {
		t.Errorf("%d families revoked as refresh reuse: a client retrying with the token it held, or holding one the store lost, was taken for a thief", f.reuse)
	}
}

func join(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
