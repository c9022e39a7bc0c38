package fetcher_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"authserver/fetcher"
)

var bg = context.Background()

func TestGetAndPostForm(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("X-Seen", r.Method+"|"+r.Header.Get("Accept")+"|"+r.UserAgent()+"|"+r.PostForm.Get("logout_token"))
		w.Write([]byte("hello"))
	})
	f := newFetcher(t, o, fetcher.Config{AllowLoopback: true})
	before := time.Now()
	resp, err := f.Get(bg, o.URL+"/doc", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(resp.Body) != "hello" || resp.Header.Get("X-Seen") != "GET|application/json|authserver|" || resp.FetchedAt.Before(before) {
		t.Fatalf("GET: %+v", resp)
	}
	resp, err = f.PostForm(bg, o.URL+"/bcl", url.Values{"logout_token": {"tok"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Seen"); got != "POST||authserver|tok" {
		t.Fatalf("POST seen as %q", got)
	}
}

// Every internal address is refused, as a literal and as what a name
// resolves to, before any connection; the loopback origin is never hit
// without AllowLoopback.
func TestPrivateAddressesRefused(t *testing.T) {
	o := newOrigin(t, text("secret internal page"))
	f := newFetcher(t, o, fetcher.Config{})
	for _, u := range []string{
		o.URL, o.at("::1", "/"), o.at("::ffff:127.0.0.1", "/"),
		"https://10.1.2.3/", "https://192.168.1.1/", "https://172.16.0.1/", "https://169.254.169.254/latest/meta-data/",
		"https://[::ffff:10.0.0.1]/", "https://[::ffff:a9fe:a9fe]/", "https://[fe80::1%25eth0]/", "https://[fc00::1]/",
		"https://100.64.0.1/", "https://0.0.0.0/", "https://[::]/", "https://224.0.0.1/", "https://[64:ff9b::a00:1]/",
	} {
		_, err := f.Get(bg, u, "")
		if !errors.Is(err, fetcher.ErrForbiddenAddress) {
			t.Errorf("%s: err = %v, want ErrForbiddenAddress", u, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "10.0.0.1", "192.168.0.10", "169.254.169.254", "::1", "::ffff:10.0.0.1"} {
		f := newFetcher(t, o, fetcher.Config{Resolver: resolveTo(ip)})
		if _, err := f.Get(bg, o.at("example.com", "/"), ""); !errors.Is(err, fetcher.ErrForbiddenAddress) {
			t.Errorf("example.com resolving to %s: err = %v, want ErrForbiddenAddress", ip, err)
		}
	}
	if h := o.hits.Load(); h != 0 {
		t.Fatalf("the internal origin was reached %d times", h)
	}
}

func TestAddressRule(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "::ffff:169.254.169.254", "fe80::1", "fc00::1", "fd12:3456::1", "100.64.0.1", "100.127.255.254",
		"0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "::ffff:10.0.0.1",
		"64:ff9b::a00:1", "64:ff9b::7f00:1", "2002:a00:1::1", "192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1",
		"2001:db8::1", "2001::1", "::10.0.0.1", "fec0::1",
	}
	for _, s := range refused {
		if err := fetcher.CheckAddress(netip.MustParseAddr(s), false); !errors.Is(err, fetcher.ErrForbiddenAddress) {
			t.Errorf("%s allowed", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "100.128.0.1"} {
		if err := fetcher.CheckAddress(netip.MustParseAddr(s), false); err != nil {
			t.Errorf("public %s refused: %v", s, err)
		}
	}
	for _, s := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		if err := fetcher.CheckAddress(netip.MustParseAddr(s), true); err != nil {
			t.Errorf("loopback %s refused with AllowLoopback: %v", s, err)
		}
	}
	for _, s := range []string{"10.0.0.1", "169.254.169.254", "fc00::1"} {
		if err := fetcher.CheckAddress(netip.MustParseAddr(s), true); err == nil {
			t.Errorf("AllowLoopback let %s through", s)
		}
	}
}

// A name is resolved once per connection and the checked address is the
// one dialed: a resolver that answers loopback (allowed here) and then a
// private address gets the second connection refused, not redirected.
func TestDNSRebindingRefused(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close") // each request a new connection
		w.Write([]byte("ok"))
	})
	r := resolveTo("127.0.0.1", "10.0.0.1")
	f := newFetcher(t, o, fetcher.Config{AllowLoopback: true, Resolver: r})
	if _, err := f.Get(bg, o.at("example.com", "/"), ""); err != nil {
		t.Fatal(err)
	}
	if r.count() != 1 {
		t.Fatalf("%d lookups for one connection, want 1", r.count())
	}
	_, err := f.Get(bg, o.at("example.com", "/"), "")
	if !errors.Is(err, fetcher.ErrForbiddenAddress) || o.hits.Load() != 1 {
		t.Fatalf("rebound to 10.0.0.1: err = %v, %d hits", err, o.hits.Load())
	}

	// One internal answer among public ones refuses the name.
	r = resolveTo("127.0.0.1,10.0.0.1")
	f = newFetcher(t, o, fetcher.Config{AllowLoopback: true, Resolver: r})
	if _, err := f.Get(bg, o.at("example.com", "/"), ""); !errors.Is(err, fetcher.ErrForbiddenAddress) {
		t.Fatalf("mixed answer: err = %v", err)
	}
}

// TLS is checked against the URL's host, not the address dialed.
func TestTLSServerNameIsTheURLHost(t *testing.T) {
	o := newOrigin(t, text("ok"))
	f := newFetcher(t, o, fetcher.Config{AllowLoopback: true, Resolver: resolveTo("127.0.0.1")})
	if _, err := f.Get(bg, o.at("example.com", "/"), ""); err != nil {
		t.Fatalf("certificate for example.com: %v", err)
	}
	if _, err := f.Get(bg, o.at("other.test", "/"), ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("certificate not for other.test accepted: %v", err)
	}
	// Without the CA file the test certificate is not trusted.
	if _, err := newFetcher(t, nil, fetcher.Config{AllowLoopback: true}).Get(bg, o.URL, ""); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			w.Write([]byte("followed"))
			return
		}
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	f := newFetcher(t, o, fetcher.Config{AllowLoopback: true})
	resp, err := f.Get(bg, o.URL+"/start", "")
	if !errors.Is(err, fetcher.ErrRedirect) || resp == nil || resp.StatusCode != http.StatusFound || o.hits.Load() != 1 {
		t.Fatalf("err = %v, resp = %+v, hits = %d", err, resp, o.hits.Load())
	}
	if _, err := f.PostForm(bg, o.URL+"/start", nil); !errors.Is(err, fetcher.ErrRedirect) {
		t.Fatalf("POST: err = %v", err)
	}
}

func TestNon2xxIsErrStatus(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "gone", http.StatusNotFound) })
	resp, err := newFetcher(t, o, fetcher.Config{AllowLoopback: true}).Get(bg, o.URL, "")
	if !errors.Is(err, fetcher.ErrStatus) || resp == nil || resp.StatusCode != 404 || resp.Body != nil {
		t.Fatalf("err = %v, resp = %+v", err, resp)
	}
}

// The cap holds however the length is told: a chunked body, a
// Content-Length above the cap, one below what is sent, and none at all
// (read to close).
func TestOversizeRefused(t *testing.T) {
	const limit = 1000
	big := strings.Repeat("x", limit+1)
	raw := func(header string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.1 200 OK\r\n" + header + "\r\n" + strings.Repeat("y", 100*limit))
			buf.Flush()
		}
	}
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"chunked", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(big[:10]))
			w.(http.Flusher).Flush()
			w.Write([]byte(big[10:]))
		}},
		{"content-length over the cap", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Content-Length", strconv.Itoa(10<<20)) }},
		{"no length, read to close", raw("Connection: close\r\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOrigin(t, c.h)
			resp, err := newFetcher(t, o, fetcher.Config{AllowLoopback: true, MaxBytes: limit}).Get(bg, o.URL, "")
			if !errors.Is(err, fetcher.ErrTooLarge) || resp != nil {
				t.Fatalf("err = %v, resp = %v", err, resp)
			}
		})
	}
	t.Run("content-length under what is sent", func(t *testing.T) {
		o := newOrigin(t, raw("Content-Length: 10\r\n"))
		resp, err := newFetcher(t, o, fetcher.Config{AllowLoopback: true, MaxBytes: limit}).Get(bg, o.URL, "")
		if err == nil && len(resp.Body) > 10 {
			t.Fatalf("read %d bytes past a Content-Length of 10", len(resp.Body))
		}
	})
	t.Run("exactly the cap", func(t *testing.T) {
		o := newOrigin(t, text(big[:limit]))
		resp, err := newFetcher(t, o, fetcher.Config{AllowLoopback: true, MaxBytes: limit}).Get(bg, o.URL, "")
		if err != nil || len(resp.Body) != limit {
			t.Fatalf("err = %v", err)
		}
	})
}

// Timeout bounds the whole exchange: a body dripped a byte every 200ms,
// and headers that never come, are cut at Timeout.
func TestSlowServerCutAtTimeout(t *testing.T) {
	drip := func(w http.ResponseWriter, r *http.Request) {
		for {
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	stall := func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	for name, h := range map[string]http.HandlerFunc{"slow body": drip, "no headers": stall} {
		t.Run(name, func(t *testing.T) {
			o := newOrigin(t, h)
			f := newFetcher(t, o, fetcher.Config{AllowLoopback: true, Timeout: time.Second})
			began := time.Now()
			_, err := f.Get(bg, o.URL, "")
			took := time.Since(began)
			if err == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline", err)
			}
			if took < 900*time.Millisecond || took > 2*time.Second {
				t.Fatalf("cut after %v, want about 1s", took)
			}
		})
	}
}

// http:// is refused outright without AllowLoopback, and with it is let
// through only to a loopback address.
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	plain := httptest.NewServer(text("plain"))
	defer plain.Close()
	if _, err := newFetcher(t, nil, fetcher.Config{}).Get(bg, plain.URL, ""); !errors.Is(err, fetcher.ErrScheme) {
		t.Fatalf("http without AllowLoopback: err = %v", err)
	}
	f := newFetcher(t, nil, fetcher.Config{AllowLoopback: true})
	if resp, err := f.Get(bg, plain.URL, ""); err != nil || string(resp.Body) != "plain" {
		t.Fatalf("http to loopback with AllowLoopback: %v", err)
	}
	for _, ip := range []string{"93.184.215.14", "10.0.0.1"} {
		f := newFetcher(t, nil, fetcher.Config{AllowLoopback: true, Resolver: resolveTo(ip)})
		if _, err := f.Get(bg, "http://app.example/bcl", ""); !errors.Is(err, fetcher.ErrScheme) {
			t.Errorf("http to %s: err = %v, want ErrScheme", ip, err)
		}
	}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "HTTP://example.com/"} {
		if _, err := newFetcher(t, nil, fetcher.Config{}).Get(bg, u, ""); !errors.Is(err, fetcher.ErrScheme) {
			t.Errorf("%s: err = %v, want ErrScheme", u, err)
		}
	}
}

func TestMalformedURLsRefused(t *testing.T) {
	r := resolveTo("93.184.215.14")
	f := newFetcher(t, nil, fetcher.Config{Resolver: r})
	for _, u := range []string{
		"https://user:hunter2@example.com/", "https://user@example.com/", "https://example.com/#frag", "https://example.com/#",
		"/relative", "example.com/x", "https:///nohost", "https://exa mple.com/", "https://exämple.com/", "://x", "https://example.com:99999/",
		"https://a..b/", "https:example.com", "https://example.com:0/", "",
	} {
		_, err := f.Get(bg, u, "")
		if !errors.Is(err, fetcher.ErrScheme) {
			t.Errorf("%q: err = %v, want ErrScheme", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error shows the password: %v", u, err)
		}
	}
	if r.count() != 0 {
		t.Fatalf("%d lookups for refused URLs", r.count())
	}
}

// The lists are checked on the URL's host, normalized, before any DNS.
func TestHostLists(t *testing.T) {
	o := newOrigin(t, text("ok"))
	r := resolveTo("127.0.0.1")
	f := newFetcher(t, o, fetcher.Config{
		AllowLoopback: true, Resolver: r,
		AllowHosts: []string{"example.com", "*.allowed.test", "127.0.0.1"},
		DenyHosts:  []string{"bad.allowed.test", "127.0.0.1"},
	})
	if _, err := f.Get(bg, o.at("example.com", "/"), ""); err != nil {
		t.Fatalf("allowed host: %v", err)
	}
	if _, err := f.Get(bg, o.at("EXAMPLE.com.", "/"), ""); err != nil {
		t.Fatalf("allowed host in capitals with a trailing dot: %v", err)
	}
	if _, err := f.Get(bg, o.at("a.b.allowed.test", "/"), ""); errors.Is(err, fetcher.ErrHostNotAllowed) {
		t.Fatalf("subdomain of a wildcard refused: %v", err) // it fails on the certificate instead
	}
	lookups := r.count()
	for _, host := range []string{"allowed.test", "xallowed.test", "bad.allowed.test", "BAD.Allowed.Test.", "other.test",
		"example.com.evil.test", "127.0.0.1", "::ffff:127.0.0.1", "sub.example.com"} {
		if _, err := f.Get(bg, o.at(host, "/"), ""); !errors.Is(err, fetcher.ErrHostNotAllowed) {
			t.Errorf("%s: err = %v, want ErrHostNotAllowed", host, err)
		}
	}
	if r.count() != lookups {
		t.Fatalf("refused hosts were looked up (%d lookups)", r.count()-lookups)
	}

	for _, bad := range []string{"", "*", "*.", "a.*.com", "*example.com", "https://example.com", "example.com:443", "exa mple.com", "exämple.com", "example.com/path"} {
		if _, err := fetcher.New(fetcher.Config{AllowHosts: []string{bad}}); err == nil {
			t.Errorf("allow pattern %q accepted", bad)
		}
		if _, err := fetcher.New(fetcher.Config{DenyHosts: []string{bad}}); err == nil {
			t.Errorf("deny pattern %q accepted", bad)
		}
	}
}

// Proxy variables in the environment are never used: the address check
// would be the proxy's, not ours.
func TestNoProxyFromEnvironment(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("proxied")) }))
	defer proxy.Close()
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	o := newOrigin(t, text("direct"))
	resp, err := newFetcher(t, o, fetcher.Config{AllowLoopback: true}).Get(bg, o.URL, "")
	if err != nil || string(resp.Body) != "direct" {
		t.Fatalf("err = %v", err)
	}
}

// Neither the form sent (a logout token) nor the body received appear in
// an error, nor the URL's query.
func TestErrorsHoldNoSecrets(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere?body-secret", http.StatusFound)
		case "/big":
			w.Write([]byte(strings.Repeat("body-secret", 100)))
		default:
			http.Error(w, "body-secret", http.StatusInternalServerError)
		}
	})
	f := newFetcher(t, o, fetcher.Config{AllowLoopback: true, MaxBytes: 100})
	form := url.Values{"logout_token": {"form-secret"}}
	for _, path := range []string{"/fail?q=query-secret", "/redirect?q=query-secret", "/big?q=query-secret"} {
		_, err := f.PostForm(bg, o.URL+path, form)
		if err == nil {
			t.Fatalf("%s: no error", path)
		}
		for _, secret := range []string{"form-secret", "body-secret", "query-secret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error shows %s: %v", path, secret, err)
			}
		}
	}
}

func TestNewRefusesBadCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, file := range []string{filepath.Join(dir, "missing.pem"), notPEM} {
		if _, err := fetcher.New(fetcher.Config{RootCAFile: file}); err == nil {
			t.Errorf("%s accepted", file)
		}
	}
}
