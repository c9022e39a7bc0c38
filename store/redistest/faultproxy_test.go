package redistest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one line over c and reads the echo, within timeout.
func roundTrip(c net.Conn, r *bufio.Reader, line string, timeout time.Duration) (string, time.Duration, error) {
	start := time.Now()
	_ = c.SetDeadline(start.Add(timeout))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", time.Since(start), err
	}
	got, err := r.ReadString('\n')
	return strings.TrimSuffix(got, "\n"), time.Since(start), err
}

func dialProxy(t *testing.T, p *FaultProxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestFaultProxyForwards(t *testing.T) {
	t.Parallel()
	p := StartFaultProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	for _, line := range []string{"one", "two", strings.Repeat("x", 100_000)} {
		got, _, err := roundTrip(c, r, line, 2*time.Second)
		if err != nil || got != line {
			t.Fatalf("echo of %d bytes: %d bytes back, %v", len(line), len(got), err)
		}
	}
}

func TestFaultProxyLatency(t *testing.T) {
	t.Parallel()
	const up, down = 150 * time.Millisecond, 100 * time.Millisecond
	p := StartFaultProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	if _, took, err := roundTrip(c, r, "warm", time.Second); err != nil || took >= up {
		t.Fatalf("before latency: %v, %v", took, err)
	}
	p.SetLatency(up, down)
	if _, took, err := roundTrip(c, r, "slow", 5*time.Second); err != nil || took < up+down {
		t.Fatalf("with %v+%v latency: round trip %v, %v", up, down, took, err)
	}
	p.Heal()
	if _, took, err := roundTrip(c, r, "fast", time.Second); err != nil || took >= up {
		t.Fatalf("after Heal: %v, %v", took, err)
	}
}

// A drop while a reply is held back by latency loses the reply: the
// client sees a reset, not the data.
func TestFaultProxyDropAllMidStream(t *testing.T) {
	t.Parallel()
	p := StartFaultProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	if _, _, err := roundTrip(c, r, "before", time.Second); err != nil {
		t.Fatal(err)
	}
	p.SetLatency(0, 500*time.Millisecond)
	errc := make(chan error, 1)
	go func() {
		_, _, err := roundTrip(c, r, "lost", 5*time.Second)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // the line reached the server; its echo is held
	if n := p.DropAll(); n != 1 {
		t.Fatalf("DropAll dropped %d connections, want 1", n)
	}
	err := <-errc
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("read after the drop: %v, want a reset", err)
	}
	// New connections are served as before.
	p.Heal()
	c2, r2 := dialProxy(t, p)
	if got, _, err := roundTrip(c2, r2, "after", time.Second); err != nil || got != "after" {
		t.Fatalf("new connection after the drop: %q, %v", got, err)
	}
}

func TestFaultProxyRefuse(t *testing.T) {
	t.Parallel()
	p := StartFaultProxy(t, echoServer(t))
	open, openR := dialProxy(t, p)
	if _, _, err := roundTrip(open, openR, "hello", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Refuse()
	start := time.Now()
	// The reset may reach the dial itself or the first read.
	c, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err == nil {
		defer c.Close()
		_, _, err = roundTrip(c, bufio.NewReader(c), "refused", 2*time.Second)
	}
	if took := time.Since(start); err == nil || took > time.Second {
		t.Fatalf("new connection while refusing: err %v after %v, want a prompt failure", err, took)
	}
	if got, _, err := roundTrip(open, openR, "still", time.Second); err != nil || got != "still" {
		t.Fatalf("open connection while refusing new ones: %q, %v", got, err)
	}
	p.Heal()
	c2, r2 := dialProxy(t, p)
	if got, _, err := roundTrip(c2, r2, "healed", time.Second); err != nil || got != "healed" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

// A blackhole answers nothing, on open and new connections, until Heal
// delivers what it held.
func TestFaultProxyBlackhole(t *testing.T) {
	t.Parallel()
	p := StartFaultProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	if _, _, err := roundTrip(c, r, "before", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	var ne net.Error
	if _, _, err := roundTrip(c, r, "held", 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("open connection in the blackhole: %v, want a timeout", err)
	}
	fresh, freshR := dialProxy(t, p) // accepted, never connected
	if _, _, err := roundTrip(fresh, freshR, "new", 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("new connection in the blackhole: %v, want a timeout", err)
	}
	p.Heal()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("held data after Heal: %q, %v", got, err)
	}
	_ = fresh.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := freshR.ReadString('\n'); err != nil || got != "new\n" {
		t.Fatalf("connection accepted in the blackhole, after Heal: %q, %v", got, err)
	}
}

func TestFaultProxyCloseEndsEverything(t *testing.T) {
	t.Parallel()
	p := StartFaultProxy(t, echoServer(t))
	c, r := dialProxy(t, p)
	if _, _, err := roundTrip(c, r, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole() // Close must not wait for a heal
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a blackholed connection open")
	}
	if _, _, err := roundTrip(c, r, "y", time.Second); err == nil {
		t.Fatal("connection still works after Close")
	}
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("proxy still accepts after Close")
	}
	if p.Open() != 0 {
		t.Fatalf("%d connections left after Close", p.Open())
	}
	p.Close() // idempotent
}
