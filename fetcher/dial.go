package fetcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// dialer resolves a host itself, checks every address it got and connects
// to a checked address, never to the name: a resolver that answers a
// public address for the check and a private one for the connection (DNS
// rebinding) has nothing to win, as there is one answer per connection.
type dialer struct {
	resolver Resolver
	// check refuses an address; it runs on every answer and again, from
	// the socket's Control hook, on the address actually dialed.
	check func(netip.Addr) error
	net   net.Dialer
}

func newDialer(r Resolver, timeout time.Duration, check func(netip.Addr) error) *dialer {
	d := &dialer{resolver: r, check: check}
	d.net = net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: dialing %q", ErrForbiddenAddress, address)
		}
		return check(ap.Addr())
	}}
	return d
}

func (d *dialer) DialContext(ctx context.Context, _, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("fetcher: bad port %q", portText)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	// Any internal answer refuses the host, even beside public ones: the
	// name is pointed at an internal address on purpose or by mistake.
	for _, a := range addrs {
		if err := d.check(a); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := d.net.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (d *dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.WithZone("").Unmap()}, nil
	}
	addrs, err := d.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("fetcher: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("fetcher: resolve %s: no addresses", host)
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.WithZone("").Unmap()
	}
	return out, nil
}
