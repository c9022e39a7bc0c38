package ratelimit

import (
	"net"
	"net/netip"
)

// ClientIP is the source failures are counted under, from a request's
// RemoteAddr: the peer's address, or the client's when Proxies.Handler
// resolved it from a trusted proxy's headers. An IPv6 client is counted by
// its /64, which one subscriber usually holds.
func ClientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
