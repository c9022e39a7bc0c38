package ratelimit_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"authserver/ratelimit"
)

func TestPasswordCounters(t *testing.T) {
	w := time.Minute
	p := ratelimit.PasswordLimits{
		PerUser:           ratelimit.Policy{Max: 5, Window: w},
		PerUserUntrusted:  ratelimit.Policy{Max: 100, Window: w},
		PerIP:             ratelimit.Policy{Max: 20, Window: w},
		PerClient:         ratelimit.Policy{Max: 50, Window: w},
		InFlightPerSource: 2,
	}
	names := func(cs []ratelimit.Counter) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	find := func(cs []ratelimit.Counter, name string) ratelimit.Counter {
		for _, c := range cs {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no counter %s in %v", name, names(cs))
		return ratelimit.Counter{}
	}

	page := p.Counters(ratelimit.PasswordAttempt{Username: "Alice", ClientIP: "192.0.2.1"})
	grant := p.Counters(ratelimit.PasswordAttempt{Username: "ALICE", ClientIP: "192.0.2.1", ClientID: "app"})
	device := p.Counters(ratelimit.PasswordAttempt{Username: "alice", ClientIP: "192.0.2.1", DeviceID: "nonce-1"})
	invalid := p.Counters(ratelimit.PasswordAttempt{Username: "no such user!", ClientIP: "192.0.2.1"})

	for _, c := range []struct {
		name string
		got  []ratelimit.Counter
		want []string
	}{
		// Narrowest first: a source refused by its own counter never touches
		// the shared per-user one.
		{"page", page, []string{"password_checks_in_flight_per_ip", "password_per_user_ip", "sign_in_per_ip", "password_per_user"}},
		{"grant", grant, []string{"password_checks_in_flight_per_ip", "password_per_user_ip", "password_per_client", "password_per_user"}},
		// A trusted device is counted on its own only.
		{"device", device, []string{"password_checks_in_flight_per_ip", "password_per_device"}},
		{"invalid username", invalid, []string{"password_checks_in_flight_per_ip", "sign_in_per_ip"}},
	} {
		if !slices.Equal(names(c.got), c.want) {
			t.Errorf("%s: counters %v, want %v", c.name, names(c.got), c.want)
		}
		if f := find(c.got, "password_checks_in_flight_per_ip"); f.InFlight != 2 || f.Policy.Max != 0 {
			t.Errorf("%s: in-flight counter %+v", c.name, f)
		}
	}
	// The page and the grant share the per-username counters, whatever the case.
	for _, n := range []string{"password_per_user_ip", "password_per_user"} {
		if a, b := find(page, n), find(grant, n); a.Key != b.Key || a.Policy != b.Policy {
			t.Errorf("%s: page %+v, grant %+v; want one counter", n, a, b)
		}
	}
	if c := find(page, "password_per_user_ip"); c.Policy.Max != 5 || !c.ResetOnSuccess {
		t.Errorf("per (user, ip): %+v", c)
	}
	// A success from one place does not refill a distributed guesser's budget.
	if c := find(page, "password_per_user"); c.Policy.Max != 100 || c.ResetOnSuccess {
		t.Errorf("per user: %+v", c)
	}
	if c := find(device, "password_per_device"); c.Policy.Max != 5 || !c.ResetOnSuccess || strings.Contains(c.Key, "nonce-1") {
		t.Errorf("per device: %+v (the key must not hold the nonce)", c)
	}
	other := p.Counters(ratelimit.PasswordAttempt{Username: "alice", ClientIP: "198.51.100.7"})
	if find(other, "password_per_user_ip").Key == find(page, "password_per_user_ip").Key {
		t.Error("two addresses share a per (user, ip) counter")
	}
	if find(other, "password_per_user").Key != find(page, "password_per_user").Key {
		t.Error("two addresses must share the per-user cap")
	}
}

func TestClientIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:4242":             "192.0.2.1",
		"[::ffff:192.0.2.1]:4242":    "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"not an address":             "not an address",
		"192.0.2.9":                  "192.0.2.9",
	} {
		if got := ratelimit.ClientIP(in); got != want {
			t.Errorf("ClientIP(%q) = %q, want %q", in, got, want)
		}
	}
}
