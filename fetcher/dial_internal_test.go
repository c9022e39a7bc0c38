package fetcher

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// The socket's Control hook checks the address actually dialed, a second
// line behind the check of the resolver's answers: here a rule that
// passes the answer and then refuses is caught at connect time.
func TestControlHookRechecksDialedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var seen []netip.Addr
	d := newDialer(net.DefaultResolver, time.Second, func(ip netip.Addr) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ip)
		if len(seen) > 1 {
			return ErrForbiddenAddress
		}
		return nil
	})
	conn, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
	}
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("err = %v, want the Control hook's refusal", err)
	}
	if len(seen) != 2 || seen[1] != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("checked %v, want the answer and then the dialed address", seen)
	}
}
