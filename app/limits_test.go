package app_test

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/config"
	"authserver/store/redistest"
)

// eachStore runs test against a node on the embedded store and one on a
// Redis the test starts.
func eachStore(t *testing.T, tweak func(*config.Config), test func(t *testing.T, n *node)) {
	t.Run("Embedded", func(t *testing.T) {
		t.Parallel()
		test(t, startNode(t, tweak))
	})
	t.Run("Redis", func(t *testing.T) {
		t.Parallel()
		r := redistest.StartStandalone(t)
		test(t, startNode(t, func(c *config.Config) { tweak(c); c.Redis.URL = r.URL() }))
	})
}

// source is an HTTP client whose connections come from one loopback
// address (all of 127/8 reaches the node), with its own cookie jar: one
// browser or attacker at one IP. It does not follow redirects.
type source struct {
	t    *testing.T
	n    *node
	c    *http.Client
	jar  *cookiejar.Jar
	form string // the sign-in form's action, once the page was loaded
	csrf string
}

func newSource(t *testing.T, n *node, ip string) *source {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &source{t: t, n: n, jar: jar, c: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var (
	limitsActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	limitsCSRFRe   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

// openSignIn loads the sign-in page of an authorization request of
// clientID, which sets the CSRF cookie and gives the form.
func (s *source) openSignIn(clientID string) {
	s.t.Helper()
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1/callback"},
		"scope": {"profile"}, "state": {"s"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
	}
	resp, err := s.c.Get(s.n.base + "/authorize?" + q.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a, c := limitsActionRe.FindSubmatch(raw), limitsCSRFRe.FindSubmatch(raw)
	if resp.StatusCode != http.StatusOK || a == nil || c == nil {
		s.t.Fatalf("sign-in page: %d %s", resp.StatusCode, raw)
	}
	s.form, s.csrf = s.n.base+html.UnescapeString(string(a[1])), html.UnescapeString(string(c[1]))
}

// signIn posts the sign-in form and returns the status: 302/303 signed in,
// 400 wrong password, 429 locked. It may run on any goroutine.
func (s *source) signIn(username, password string) (int, error) {
	form := url.Values{"csrf": {s.csrf}, "username": {username}, "password": {password}}
	resp, err := s.c.PostForm(s.form, form)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		return 0, fmt.Errorf("429 without Retry-After")
	}
	return resp.StatusCode, nil
}

// mustSignIn is signIn on the test goroutine, wanting status.
func (s *source) mustSignIn(username, password string, want int, what string) {
	s.t.Helper()
	got, err := s.signIn(username, password)
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
	if got != want {
		s.t.Fatalf("%s: status %d, want %d", what, got, want)
	}
}

// password is a password grant; it returns the status. Any goroutine.
func (s *source) password(clientID, secret, username, password string) (int, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, s.n.base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := s.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests && (resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), `"error"`)) {
		return 0, fmt.Errorf("429 without Retry-After or an RFC 6749 error body: %s", raw)
	}
	return resp.StatusCode, nil
}

// burst runs n attempts at once (attempt(i) for i in 0..n-1) and returns
// how many answers had each status. Errors come back on the test
// goroutine.
func burst(t *testing.T, n int, attempt func(i int) (int, error)) map[int]int {
	t.Helper()
	type answer struct {
		status int
		err    error
	}
	answers := make(chan answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			st, err := attempt(i)
			answers <- answer{st, err}
		})
	}
	close(start)
	wg.Wait()
	close(answers)
	out := map[int]int{}
	for a := range answers {
		if a.err != nil {
			t.Fatal(a.err)
		}
		out[a.status]++
	}
	return out
}

// passwordClient registers a client allowed the password and code grants.
func passwordClient(t *testing.T, n *node) (id, secret string) {
	c := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "authorization_code"}, "scopes": []string{"profile"},
		"redirect_uris": []string{"http://127.0.0.1/callback"},
	})
	return c["id"].(string), c["client_secret"].(string)
}

// Finding: parallel guesses were all checked against the password, as the
// counter was read before the hash and written after it. Now each attempt
// reserves its slot first: of 50 parallel guesses for one user, exactly
// `limit` are checked (counted by argon2 computations), the rest get 429,
// and the right password afterwards is refused unchecked. The in-flight
// bound is raised so that the counters, not it, are what holds.
func TestParallelGuesses(t *testing.T) {
	const limit, n = 5, 50
	eachStore(t, func(c *config.Config) {
		c.Limits.PasswordFailuresPerUser = limit
		c.Limits.PasswordChecksInFlightPerIP = 1000
		// Slow enough that a read-then-write limiter lets the burst through.
		c.PasswordHash = config.PasswordHash{Time: 1, MemoryKiB: 2048, Threads: 1}
	}, func(t *testing.T, nd *node) {
		id, secret := passwordClient(t, nd)
		for _, u := range []string{"grant-all-wrong", "grant-one-right", "page-all-wrong", "page-one-right"} {
			nd.admin(t, "POST", "/admin/users", map[string]any{"username": u, "password": u + " password"})
		}
		src := newSource(t, nd, "127.0.0.1")
		checks := nd.app.Users.PasswordChecks
		type try func(username, password string) (int, error)
		grant := func(u, p string) (int, error) { return src.password(id, secret, u, p) }
		src.openSignIn(id)
		page := src.signIn
		for _, c := range []struct {
			name     string
			try      try
			failed   int // the status of a wrong password
			signedIn int
		}{
			{"grant", grant, http.StatusBadRequest, http.StatusOK},
			{"page", page, http.StatusBadRequest, http.StatusSeeOther},
		} {
			// All wrong: exactly limit checks.
			user := c.name + "-all-wrong"
			before := checks()
			got := burst(t, n, func(i int) (int, error) { return c.try(user, fmt.Sprintf("guess %d", i)) })
			ran := checks() - before
			if ran != limit || got[c.failed] != limit || got[http.StatusTooManyRequests] != n-limit {
				t.Fatalf("%s: %d parallel wrong guesses: %d password checks, answers %v; want %d checks, %d×%d, %d×429",
					c.name, n, ran, got, limit, limit, c.failed, n-limit)
			}
			before = checks()
			if st, err := c.try(user, user+" password"); err != nil || st != http.StatusTooManyRequests || checks() != before {
				t.Fatalf("%s: the right password after the limit: %d, %v, %d checks; want 429 unchecked", c.name, st, err, checks()-before)
			}

			// The right password among the guesses: every answer that is not
			// 429 is one check; without a success exactly limit checks ran,
			// and a success (reserved while fewer than limit slots were held,
			// then resetting the count) allows at most limit-1 failures
			// before it and limit after.
			user = c.name + "-one-right"
			right := n / 2
			before = checks()
			got = burst(t, n, func(i int) (int, error) {
				if i == right {
					return c.try(user, user+" password")
				}
				return c.try(user, fmt.Sprintf("guess %d", i))
			})
			ran = checks() - before
			answered := int64(n - got[http.StatusTooManyRequests])
			wins := got[c.signedIn]
			maxFailed := limit
			if wins == 1 {
				maxFailed = 2*limit - 1
			}
			if ran != answered || wins > 1 || got[c.failed] > maxFailed || (wins == 0 && ran != limit) ||
				got[c.failed]+wins+got[http.StatusTooManyRequests] != n {
				t.Fatalf("%s: %d parallel attempts with the right one among them: %d checks, answers %v", c.name, n, ran, got)
			}
			t.Logf("%s: burst with the right password: %d checks, answers %v", c.name, ran, got)
		}
	})
}

// Finding: five anonymous failures locked any user out. Now a browser
// that signed the user in before holds a device cookie and is counted per
// device; other sources are counted per (username, IP) and, together, per
// username at a higher cap.
func TestLockoutCannotBeTurnedAgainstTheUser(t *testing.T) {
	const perUser, untrusted = 3, 7
	eachStore(t, func(c *config.Config) {
		c.Limits.PasswordFailuresPerUser = perUser
		c.Limits.PasswordFailuresPerUserUntrusted = untrusted
	}, func(t *testing.T, nd *node) {
		id, secret := passwordClient(t, nd)
		const alicePW, bobPW = "alice's long password", "bob's long password"
		nd.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": alicePW})
		nd.admin(t, "POST", "/admin/users", map[string]any{"username": "bob", "password": bobPW})

		// Alice signs in from her browser once: it gets a device cookie.
		alice := newSource(t, nd, "127.0.0.1")
		alice.openSignIn(id)
		alice.mustSignIn("alice", alicePW, http.StatusSeeOther, "alice's first sign-in")
		device := deviceCookie(t, alice, "alice")

		// An attacker who knows only her name fails past the per-user limit,
		// on the page and with the password grant (one shared counter), from
		// her own address (a shared NAT), where only the device cookie
		// tells her browser apart.
		attacker := newSource(t, nd, "127.0.0.1")
		attacker.openSignIn(id)
		for i := range perUser {
			attacker.mustSignIn("ALICE", fmt.Sprintf("guess %d", i), http.StatusBadRequest, "a guess")
		}
		attacker.mustSignIn("alice", alicePW, http.StatusTooManyRequests, "the attacker over the limit, right password")
		if st, err := attacker.password(id, secret, "alice", alicePW); err != nil || st != http.StatusTooManyRequests {
			t.Fatalf("the attacker's password grant over the limit: %d, %v", st, err)
		}

		// Alice's browser is not locked out; nor is a new source, which is
		// held to the shared cap only.
		alice.mustSignIn("alice", alicePW, http.StatusSeeOther, "alice's browser after the attack")
		fresh := newSource(t, nd, "127.0.0.3")
		if st, err := fresh.password(id, secret, "alice", alicePW); err != nil || st != http.StatusOK {
			t.Fatalf("a fresh source's password grant: %d, %v", st, err)
		}

		// Forged device cookies count as none: a tampered one, and bob's
		// own valid cookie presented for alice.
		attacker.mustSignIn("bob", bobPW, http.StatusSeeOther, "the attacker signs in to his own account")
		bobs := deviceCookie(t, attacker, "bob")
		tampered := device.Value[:len(device.Value)-2] + flip(device.Value[len(device.Value)-2:])
		for what, v := range map[string]string{"tampered": tampered, "bob's": bobs.Value, "made up": "alice|AAAAAAAAAAAAAAAAAAAAAA|99999999999|AAAA"} {
			setCookie(t, attacker, device.Name, v)
			attacker.mustSignIn("alice", alicePW, http.StatusTooManyRequests, what+" device cookie")
		}
		// The control: her real cookie, stolen, would work from anywhere.
		setCookie(t, attacker, device.Name, device.Value)
		attacker.mustSignIn("alice", alicePW, http.StatusSeeOther, "alice's real device cookie")

		// Attackers from more addresses reach the cap over all untrusted
		// sources; then an unknown source is locked, alice's browser is not.
		for i, left := 4, untrusted-perUser; left > 0; i++ {
			s := newSource(t, nd, fmt.Sprintf("127.0.0.%d", i))
			for range min(perUser, left) {
				if st, err := s.password(id, secret, "alice", "guess"); err != nil || st != http.StatusBadRequest {
					t.Fatalf("a guess from 127.0.0.%d: %d, %v", i, st, err)
				}
				left--
			}
		}
		late := newSource(t, nd, "127.0.0.99")
		late.openSignIn(id)
		late.mustSignIn("alice", alicePW, http.StatusTooManyRequests, "an unknown source at the cap")
		alice.mustSignIn("alice", alicePW, http.StatusSeeOther, "alice's browser at the cap")
	})
}

func deviceCookie(t *testing.T, s *source, username string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(s.n.base)
	for _, c := range s.jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "authserver_device_") && strings.HasPrefix(c.Value, username+"|") {
			return c
		}
	}
	t.Fatalf("no device cookie for %s", username)
	return nil
}

func setCookie(t *testing.T, s *source, name, value string) {
	u, _ := url.Parse(s.n.base)
	s.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// flip changes a base64url string while keeping it well formed.
func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// One address may have at most password_checks_in_flight_per_ip checks
// waiting or running on a node, counted across the password grant and the
// sign-in page (one limiter per node); the rest are refused at once with
// 429 and not hashed. Hashing is slowed so the attempts overlap.
func TestPasswordChecksInFlightPerIP(t *testing.T) {
	const n = 12
	nd := startNode(t, func(c *config.Config) {
		c.Limits.PasswordChecksInFlightPerIP = 2
		c.Limits.PasswordFailuresPerUser = 1000
		c.Limits.PasswordFailuresPerUserUntrusted = 1000
		c.Limits.LoginFailuresPerIP = 1000
		c.Limits.PasswordFailuresPerClient = 1000
		c.PasswordHash = config.PasswordHash{Time: 1, MemoryKiB: 16384, Threads: 1}
	})
	id, secret := passwordClient(t, nd)
	nd.admin(t, "POST", "/admin/users", map[string]any{"username": "erin", "password": "erin's long password"})
	src := newSource(t, nd, "127.0.0.1")
	src.openSignIn(id)
	before := nd.app.Users.PasswordChecks()
	got := burst(t, n, func(i int) (int, error) {
		if i%2 == 0 {
			return src.password(id, secret, "erin", fmt.Sprintf("guess %d", i))
		}
		return src.signIn("erin", fmt.Sprintf("guess %d", i))
	})
	ran := nd.app.Users.PasswordChecks() - before
	refused := got[http.StatusTooManyRequests]
	if refused == 0 || ran != int64(n-refused) || got[http.StatusBadRequest] != n-refused {
		t.Fatalf("%d parallel attempts from one address: %d checks, answers %v; want some refused unhashed", n, ran, got)
	}
	t.Logf("%d parallel attempts, in-flight bound 2: %d checks, answers %v", n, ran, got)
	// Another address is not held up by this one's queue.
	other := newSource(t, nd, "127.0.0.2")
	if st, err := other.password(id, secret, "erin", "erin's long password"); err != nil || st != http.StatusOK {
		t.Fatalf("another address: %d, %v", st, err)
	}
}
