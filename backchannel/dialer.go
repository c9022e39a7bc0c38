package backchannel

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is a delivery refused because the receiver's address
// is private, loopback, link-local or otherwise not on the internet.
var ErrForbiddenAddress = errors.New("backchannel: address not allowed")

// NewHTTPClient returns the client logout tokens are posted with. The
// address is checked as it is dialed, after DNS, so a name that resolves
// (or re-resolves) to an internal address is refused too; no proxy from
// the environment stands in between, and redirects are not followed.
func NewHTTPClient(timeout time.Duration, allowLoopback bool) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		return checkAddress(address, allowLoopback)
	}}
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: timeout, MaxIdleConns: 16, IdleConnTimeout: 30 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checkAddress refuses any dialed ip:port that is not a public unicast
// address; loopback is let through only when allowLoopback (tests).
func checkAddress(address string, allowLoopback bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrForbiddenAddress, err)
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() && allowLoopback {
		return nil
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || sharedAddressSpace.Contains(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

// sharedAddressSpace is carrier-grade NAT (RFC 6598), not on the internet
// but not IsPrivate either.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
