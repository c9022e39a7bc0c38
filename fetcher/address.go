package fetcher

import (
	"fmt"
	"net/netip"
)

// forbiddenV4 are the IPv4 ranges that are not the public internet
// (RFC 6890 and successors). Loopback is here for the IPv4 embedded in
// IPv6 forms; checkAddress lets plain loopback through when allowed.
var forbiddenV4 = prefixes(
	"0.0.0.0/8",       // "this network", includes the unspecified address
	"10.0.0.0/8",      // private
	"127.0.0.0/8",     // loopback
	"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
	"169.254.0.0/16",  // link-local, includes the cloud metadata 169.254.169.254
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast
)

var (
	// globalV6 is the only IPv6 space handed out for public unicast; it
	// leaves out ULA, link-local, site-local, multicast, discard and the
	// deprecated IPv4-compatible forms at once.
	globalV6 = netip.MustParsePrefix("2000::/3")
	// forbiddenV6 are the ranges inside globalV6 that are not the internet.
	forbiddenV6 = prefixes(
		"2001::/32",     // Teredo: the real destination is hidden in the address
		"2001:db8::/32", // documentation
		"3fff::/20",     // documentation (RFC 9637)
	)
	// nat64 and sixToFour embed an IPv4 address, which decides.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// checkAddress refuses ip unless it is a public unicast address, or a
// loopback address when allowLoopback.
func checkAddress(ip netip.Addr, allowLoopback bool) error {
	ip = ip.WithZone("").Unmap()
	if ip.IsLoopback() {
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is loopback", ErrForbiddenAddress, ip)
	}
	if !isPublic(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

func isPublic(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	if ip.Is4() {
		for _, p := range forbiddenV4 {
			if p.Contains(ip) {
				return false
			}
		}
		return true
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		return isPublic(netip.AddrFrom4([4]byte(b[12:16])))
	}
	if !globalV6.Contains(ip) {
		return false
	}
	if sixToFour.Contains(ip) {
		b := ip.As16()
		return isPublic(netip.AddrFrom4([4]byte(b[2:6])))
	}
	for _, p := range forbiddenV6 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
