package fetcher

import (
	"fmt"
	"net/netip"
	"strings"
)

// hostPattern is "example.com" (that host only) or "*.example.com" (any
// subdomain of example.com, not example.com itself).
type hostPattern struct {
	suffix   string // ".example.com" for a wildcard
	exact    string // "example.com" otherwise
	wildcard bool
}

func parseHostPatterns(list []string) ([]hostPattern, error) {
	out := make([]hostPattern, 0, len(list))
	for i, raw := range list {
		p, err := parseHostPattern(raw)
		if err != nil {
			return nil, fmt.Errorf("host pattern [%d] %q: %w", i, raw, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseHostPattern(raw string) (hostPattern, error) {
	s := normalizeHost(strings.TrimSpace(raw))
	if _, err := netip.ParseAddr(s); err == nil {
		return hostPattern{exact: s}, nil
	}
	wildcard := strings.HasPrefix(s, "*.")
	name := strings.TrimPrefix(s, "*.")
	if !validHostName(name) {
		return hostPattern{}, fmt.Errorf("not a host name, an IP address or *.host")
	}
	if wildcard {
		return hostPattern{suffix: "." + name, wildcard: true}, nil
	}
	return hostPattern{exact: name}, nil
}

func (p hostPattern) matches(host string) bool {
	if p.wildcard {
		return strings.HasSuffix(host, p.suffix)
	}
	return host == p.exact
}

func matchesAny(ps []hostPattern, host string) bool {
	for _, p := range ps {
		if p.matches(host) {
			return true
		}
	}
	return false
}

// normalizeHost makes equal names compare equal: lower case, no trailing
// dot, IP literals in their canonical form, so "EVIL.example." and
// "[::FFFF:a00:1]" cannot slip past a list that names them otherwise.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.WithZone("").Unmap().String()
	}
	return h
}

// validHostName accepts dot-separated LDH labels (punycode for IDNs).
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
