package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProxiesClient(t *testing.T) {
	trusted, err := ParseProxies([]string{"127.0.0.1/32", "10.0.0.0/8", "2001:db8:ffff::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		proxies Proxies
		remote  string
		headers map[string][]string
		want    string
	}{
		{"none trusted: forged XFF ignored", Proxies{}, "192.0.2.7:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "192.0.2.7"},
		{"none trusted: forged Forwarded ignored", Proxies{}, "192.0.2.7:4000", map[string][]string{"Forwarded": {"for=198.51.100.1"}}, "192.0.2.7"},
		{"untrusted peer: XFF ignored", trusted, "192.0.2.7:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "192.0.2.7"},
		{"trusted peer, no header", trusted, "127.0.0.1:4000", nil, "127.0.0.1"},
		{"trusted peer: XFF", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"forged left of the real hop", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"203.0.113.9, 198.51.100.1"}}, "198.51.100.1"},
		{"trusted hops skipped, across lines", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"203.0.113.9, 198.51.100.1", "10.1.2.3"}}, "198.51.100.1"},
		{"all hops trusted: leftmost", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"10.9.9.9, 10.1.2.3"}}, "10.9.9.9"},
		{"garbage hop stops at the proxy", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1, nonsense"}}, "127.0.0.1"},
		{"XFF hop with a port", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1:5555"}}, "198.51.100.1"},
		{"Forwarded for", trusted, "127.0.0.1:4000", map[string][]string{"Forwarded": {"for=198.51.100.1;proto=https"}}, "198.51.100.1"},
		{"Forwarded quoted IPv6 with port", trusted, "127.0.0.1:4000", map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"Forwarded chain, forged left", trusted, "127.0.0.1:4000", map[string][]string{"Forwarded": {"for=203.0.113.9, for=198.51.100.1;by=10.0.0.1", "for=10.2.2.2"}}, "198.51.100.1"},
		{"Forwarded obfuscated hop stops at the proxy", trusted, "127.0.0.1:4000", map[string][]string{"Forwarded": {"for=198.51.100.1, for=_hidden"}}, "127.0.0.1"},
		{"XFF wins over Forwarded", trusted, "127.0.0.1:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "Forwarded": {"for=203.0.113.9"}}, "198.51.100.1"},
		{"IPv6 trusted peer", trusted, "[2001:db8:ffff::1]:443", map[string][]string{"X-Forwarded-For": {"2001:db8:1::5"}}, "2001:db8:1::5"},
		{"IPv4-mapped peer", trusted, "[::ffff:127.0.0.1]:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.remote
			for k, vs := range c.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := c.proxies.Client(r); got != c.want {
				t.Fatalf("Client = %q, want %q", got, c.want)
			}
		})
	}
}

// The handler's address goes through ClientIP like a peer's: an IPv6
// client behind a proxy is still counted by its /64.
func TestProxiesHandlerKeepsIPv6Prefix(t *testing.T) {
	p, err := ParseProxies([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := p.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = ClientIP(r.RemoteAddr) }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "2001:db8:1:2:3:4:5:6")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "2001:db8:1:2::/64" {
		t.Fatalf("ClientIP = %q, want 2001:db8:1:2::/64", got)
	}
}

func TestParseProxiesRejects(t *testing.T) {
	for _, s := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0.0/8 "} {
		if _, err := ParseProxies([]string{s}); err == nil {
			t.Errorf("ParseProxies(%q) accepted", s)
		}
	}
}
