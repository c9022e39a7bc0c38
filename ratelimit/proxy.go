package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies resolves the client address of a request that may have come
// through reverse proxies. The zero value trusts none: the peer address is
// the client, whatever the headers say.
type Proxies struct{ trusted []netip.Prefix }

// ParseProxies builds Proxies from CIDRs (a bare address means just it).
func ParseProxies(cidrs []string) (Proxies, error) {
	var p Proxies
	for _, s := range cidrs {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return Proxies{}, fmt.Errorf("%q is not a CIDR or an address", s)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		p.trusted = append(p.trusted, pfx.Masked())
	}
	return p, nil
}

func (p Proxies) trusts(a netip.Addr) bool {
	for _, t := range p.trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address of the client behind r, without a port. Only when
// the peer is a trusted proxy are the forwarding headers read, and then the
// rightmost hop that is not a trusted proxy wins: hops to its left were
// written by the client and can be forged. X-Forwarded-For is read when
// present, else Forwarded (RFC 7239). A hop that is not an address stops
// the walk at the last trusted proxy, so such requests share its address
// rather than choose one.
func (p Proxies) Client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(p.trusted) == 0 {
		return host
	}
	peer = peer.Unmap()
	if !p.trusts(peer) {
		return peer.String()
	}
	hops := forwardedFor(r.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !p.trusts(a) {
			break
		}
	}
	return client.String()
}

// Handler sets each request's RemoteAddr to its client's address (Client)
// before h sees it, so every rate limit and audit record that reads
// RemoteAddr uses the same rule.
func (p Proxies) Handler(h http.Handler) http.Handler {
	if len(p.trusted) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		r2.RemoteAddr = p.Client(r)
		h.ServeHTTP(w, &r2)
	})
}

// forwardedFor lists the hops in forwarding order (client first), from
// every X-Forwarded-For line or, when there is none, every Forwarded "for".
func forwardedFor(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for hop := range strings.SplitSeq(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		for elem := range strings.SplitSeq(line, ",") {
			// An element without "for" is still a hop: the proxy that wrote
			// it did not say, so the walk must stop there.
			hop := ""
			for pair := range strings.SplitSeq(elem, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(k, "for") {
					hop = strings.Trim(v, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop reads "192.0.2.1", "192.0.2.1:80", "2001:db8::1" or
// "[2001:db8::1]:80".
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
