package redistest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy on loopback that a test puts between a client
// and a server (a node and Redis, a replica and its master) to inject
// network faults at run time: latency per direction, connections reset
// mid-stream, new connections refused, everything held (a blackhole), and
// healing. It is closed in t.Cleanup.
type FaultProxy struct {
	// Addr is where clients connect instead of the target.
	Addr   string
	target string
	ln     net.Listener

	mu        sync.Mutex
	conns     map[*proxied]struct{}
	toTarget  time.Duration // latency added to each chunk sent to the target
	toClient  time.Duration // latency added to each chunk sent back
	refusing  bool
	blackhole chan struct{} // non-nil while blackholed; closed on heal
	closed    bool
	wg        sync.WaitGroup
}

// proxied is one client connection and its connection to the target.
type proxied struct {
	mu             sync.Mutex // guards server, set once dialed
	client, server net.Conn
	once           sync.Once
}

// reset closes both sides with an RST (linger 0), as a crashed peer or a
// middlebox dropping state would, so the client sees ECONNRESET rather
// than a clean EOF.
func (c *proxied) reset() {
	c.once.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, conn := range []net.Conn{c.client, c.server} {
			if conn == nil {
				continue
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}
	})
}

// StartFaultProxy listens on a free loopback port and forwards every
// connection to target, faithfully until told otherwise.
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: fault proxy: %v", err)
	}
	p := &FaultProxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*proxied]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// SetLatency delays every chunk of data by toTarget on its way to the
// target and by toClient on its way back, on current and new connections.
func (p *FaultProxy) SetLatency(toTarget, toClient time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.toTarget, p.toClient = toTarget, toClient
}

// DropAll resets every open connection at once (commands in flight lose
// their replies) and returns how many it dropped. New connections are
// served as before.
func (p *FaultProxy) DropAll() int {
	p.mu.Lock()
	conns := make([]*proxied, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
		delete(p.conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.reset()
	}
	return len(conns)
}

// Refuse makes new connections fail at once (accepted, then reset) until
// Heal; open connections keep working.
func (p *FaultProxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = true
}

// Blackhole holds all traffic, as a network partition does: nothing is
// forwarded in either direction on open connections, and new connections
// are accepted but not connected to the target, until Heal. Data held is
// delivered after Heal unless its connection was dropped meanwhile.
func (p *FaultProxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blackhole == nil {
		p.blackhole = make(chan struct{})
	}
}

// Heal ends every fault: no latency, no refusal, no blackhole.
func (p *FaultProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.toTarget, p.toClient, p.refusing = 0, 0, false
	if p.blackhole != nil {
		close(p.blackhole)
		p.blackhole = nil
	}
}

// Open is the number of connections the proxy holds now.
func (p *FaultProxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines to end. Safe to call more than once.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Heal() // release goroutines held by a blackhole
	p.DropAll()
	p.wg.Wait()
}

func (p *FaultProxy) accept() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		c := &proxied{client: conn}
		p.mu.Lock()
		if p.closed || p.refusing {
			p.mu.Unlock()
			c.reset()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve connects c to the target (after any blackhole) and pumps both
// directions until either side ends; then both are closed.
func (p *FaultProxy) serve(c *proxied) {
	defer p.forget(c)
	if !p.waitPassable() {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	p.mu.Lock()
	_, open := p.conns[c]
	if err == nil && (!open || p.closed) {
		server.Close() // dropped while dialing
		err = net.ErrClosed
	}
	if err == nil {
		c.mu.Lock()
		c.server = server
		c.mu.Unlock()
	}
	p.mu.Unlock()
	if err != nil {
		c.reset()
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		p.pump(c.server, c.client, func() time.Duration { return p.latency(true) })
		done <- struct{}{}
	}()
	go func() {
		p.pump(c.client, c.server, func() time.Duration { return p.latency(false) })
		done <- struct{}{}
	}()
	<-done
	c.reset()
	<-done
}

func (p *FaultProxy) forget(c *proxied) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.reset()
}

func (p *FaultProxy) latency(toTarget bool) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if toTarget {
		return p.toTarget
	}
	return p.toClient
}

// waitPassable blocks while the proxy is blackholed; false once closed.
func (p *FaultProxy) waitPassable() bool {
	for {
		p.mu.Lock()
		hole, closed := p.blackhole, p.closed
		p.mu.Unlock()
		if closed {
			return false
		}
		if hole == nil {
			return true
		}
		<-hole
	}
}

// pump copies src to dst chunk by chunk, each after the latency of its
// direction and any blackhole.
func (p *FaultProxy) pump(dst, src net.Conn, delay func() time.Duration) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := delay(); d > 0 {
				time.Sleep(d)
			}
			if !p.waitPassable() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or reset: serve closes both sides
		}
	}
}
