package app_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"authserver/config"
)

// forwarded makes every request of s carry header: value, as a proxy (or
// an attacker) would set it.
func forwarded(s *source, header, value string) *source {
	s.c.Transport = headerTransport{base: s.c.Transport, header: header, value: value}
	return s
}

type headerTransport struct {
	base          http.RoundTripper
	header, value string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.header, h.value)
	return h.base.RoundTrip(r)
}

// Finding: the per-IP sign-in limit counted the connection's address, so
// behind a proxy every user shared one counter. With the proxy in
// trusted_proxies each forwarded client has its own; a peer that is not a
// trusted proxy cannot pick its address with the same headers.
func TestTrustedProxies(t *testing.T) {
	const perIP = 3
	const pw = "alice's long password"
	var logBuf syncBuffer
	n := startNodeLog(t, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1/32"}
		c.Limits.LoginFailuresPerIP = perIP
		c.Limits.PasswordFailuresPerUser = 100 // so the per-IP counter is the one that locks
	}, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	id, _ := passwordClient(t, n)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": pw})

	// Through the proxy (127.0.0.1): 198.51.100.1 fails up to the limit
	// and is locked.
	locked := forwarded(newSource(t, n, "127.0.0.1"), "X-Forwarded-For", "198.51.100.1")
	locked.openSignIn(id)
	for i := range perIP {
		locked.mustSignIn("alice", fmt.Sprintf("guess %d", i), http.StatusBadRequest, "a guess")
	}
	locked.mustSignIn("alice", pw, http.StatusTooManyRequests, "198.51.100.1 over the limit")

	// Another client behind the same proxy still signs in.
	other := forwarded(newSource(t, n, "127.0.0.1"), "X-Forwarded-For", "198.51.100.2")
	other.openSignIn(id)
	other.mustSignIn("alice", pw, http.StatusSeeOther, "198.51.100.2 behind the same proxy")

	// A forged hop left of the one the proxy appended changes nothing.
	chain := forwarded(newSource(t, n, "127.0.0.1"), "X-Forwarded-For", "198.51.100.2, 198.51.100.1")
	chain.openSignIn(id)
	chain.mustSignIn("alice", pw, http.StatusTooManyRequests, "forged, real: counted as real")

	// Forwarded (RFC 7239) names a client too, quoted IPv6 included.
	v6 := forwarded(newSource(t, n, "127.0.0.1"), "Forwarded", `for="[2001:db8:1::7]:4711";proto=https`)
	v6.openSignIn(id)
	for i := range perIP {
		v6.mustSignIn("alice", fmt.Sprintf("guess %d", i), http.StatusBadRequest, "a guess over IPv6")
	}
	v6.mustSignIn("alice", pw, http.StatusTooManyRequests, "2001:db8:1::7 over the limit")
	// ... counted by its /64, so a neighbour in it is locked as well.
	v6n := forwarded(newSource(t, n, "127.0.0.1"), "Forwarded", `for="[2001:db8:1::8]"`)
	v6n.openSignIn(id)
	v6n.mustSignIn("alice", pw, http.StatusTooManyRequests, "2001:db8:1::8, same /64")

	// A peer that is not a trusted proxy (127.0.0.2) cannot rotate its
	// address with the header: it is locked after perIP guesses.
	for i := range perIP + 1 {
		s := forwarded(newSource(t, n, "127.0.0.2"), "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		s.openSignIn(id)
		want := http.StatusBadRequest
		if i == perIP {
			want = http.StatusTooManyRequests
		}
		s.mustSignIn("alice", "guess", want, fmt.Sprintf("untrusted peer, forged hop %d", i+1))
	}

	// The audit records carry the resolved address.
	var ips []string
	for _, e := range logBuf.events(t) {
		if e["event"] == "sign_in_failed" {
			ips = append(ips, fmt.Sprint(e["ip"]))
		}
	}
	if len(ips) == 0 || ips[0] != "198.51.100.1" || ips[len(ips)-1] != "127.0.0.2" {
		t.Fatalf("sign_in_failed ips = %v, want 198.51.100.1 first and 127.0.0.2 last", ips)
	}
}

// With no trusted proxies a forged X-Forwarded-For changes nothing: the
// guesser is locked at its peer address whatever hop it names.
func TestForgedForwardedForWithoutTrustedProxies(t *testing.T) {
	const perIP = 3
	n := startNode(t, func(c *config.Config) {
		c.Limits.LoginFailuresPerIP = perIP
		c.Limits.PasswordFailuresPerUser = 100
	})
	id, _ := passwordClient(t, n)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	for i := range perIP + 1 {
		s := forwarded(newSource(t, n, "127.0.0.1"), "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		s.openSignIn(id)
		want := http.StatusBadRequest
		if i == perIP {
			want = http.StatusTooManyRequests
		}
		s.mustSignIn("alice", "guess", want, fmt.Sprintf("forged hop %d", i+1))
	}
}

// The password grant counts per (username, client address) behind a
// trusted proxy too: one forwarded client's failures do not lock another.
func TestTrustedProxiesPasswordGrant(t *testing.T) {
	const perUser = 2
	const pw = "alice's long password"
	n := startNode(t, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1/32"}
		c.Limits.PasswordFailuresPerUser = perUser
	})
	id, secret := passwordClient(t, n)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": pw})
	guesser := forwarded(newSource(t, n, "127.0.0.1"), "X-Forwarded-For", "198.51.100.1")
	for i := range perUser {
		if st, err := guesser.password(id, secret, "alice", fmt.Sprintf("guess %d", i)); err != nil || st != http.StatusBadRequest {
			t.Fatalf("guess %d: %d, %v", i, st, err)
		}
	}
	if st, err := guesser.password(id, secret, "alice", pw); err != nil || st != http.StatusTooManyRequests {
		t.Fatalf("the guesser over the limit: %d, %v", st, err)
	}
	user := forwarded(newSource(t, n, "127.0.0.1"), "X-Forwarded-For", "198.51.100.2")
	if st, err := user.password(id, secret, "alice", pw); err != nil || st != http.StatusOK {
		t.Fatalf("another client behind the proxy: %d, %v", st, err)
	}
}
