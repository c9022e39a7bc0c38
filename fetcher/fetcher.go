// Package fetcher is the one way the server fetches a URL a client gave it
// (back-channel logout, and documents such as a client's jwks_uri): https
// only, to public addresses only, checked after DNS on every connection,
// with no proxy, no redirects, a size cap and one deadline for the whole
// exchange.
package fetcher

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config bounds what a Fetcher fetches. Zero values take the defaults.
type Config struct {
	Timeout       time.Duration // whole exchange including reading the body; default 5s
	MaxBytes      int64         // body cap; a longer body is ErrTooLarge; default 64 KiB
	AllowHosts    []string      // non-empty: only these hosts ("example.com" exact, "*.example.com" any subdomain)
	DenyHosts     []string      // always refused; wins over AllowHosts
	AllowLoopback bool          // tests/dev only: loopback addresses allowed, and http:// to a loopback host
	RootCAFile    string        // tests/dev only: a PEM CA file trusted besides the system roots
	Resolver      Resolver      // nil: net.DefaultResolver; tests inject a stub (DNS rebinding)
	UserAgent     string        // default "authserver"
}

// Fetcher fetches client-given URLs; it is safe for concurrent use.
type Fetcher struct {
	cfg         Config
	allow, deny []hostPattern
	secure      *http.Client // https
	plain       *http.Client // http to loopback; nil without AllowLoopback
}

// Response is a 2xx answer read in full, or the status and headers of
// another answer returned beside its error (Body is then nil). A cached
// Response is shared: do not modify it.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	FetchedAt  time.Time
}

// New returns a Fetcher; it fails on a host pattern it cannot read or a
// RootCAFile that cannot be read or holds no certificate.
func New(cfg Config) (*Fetcher, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 10
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "authserver"
	}
	f := &Fetcher{cfg: cfg}
	var err error
	if f.allow, err = parseHostPatterns(cfg.AllowHosts); err != nil {
		return nil, fmt.Errorf("fetcher: allow hosts: %w", err)
	}
	if f.deny, err = parseHostPatterns(cfg.DenyHosts); err != nil {
		return nil, fmt.Errorf("fetcher: deny hosts: %w", err)
	}
	roots, err := rootCAs(cfg.RootCAFile)
	if err != nil {
		return nil, err
	}
	f.secure = newClient(cfg, newDialer(cfg.Resolver, cfg.Timeout, func(ip netip.Addr) error {
		return checkAddress(ip, cfg.AllowLoopback)
	}), roots)
	if cfg.AllowLoopback {
		f.plain = newClient(cfg, newDialer(cfg.Resolver, cfg.Timeout, loopbackOnly), nil)
	}
	return f, nil
}

// loopbackOnly is the address rule of plain http: loopback, or nothing.
func loopbackOnly(ip netip.Addr) error {
	if ip.WithZone("").Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: http:// only to loopback, not %s", ErrScheme, ip)
}

func rootCAs(file string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if file == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("fetcher: CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("fetcher: CA file %s: no PEM certificate", file)
	}
	return pool, nil
}

func newClient(cfg Config, d *dialer, roots *x509.CertPool) *http.Client {
	t := &http.Transport{
		Proxy:                  nil, // never HTTPS_PROXY and friends: the address check is ours
		DialContext:            d.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Get fetches rawURL, asking for accept when it is not empty.
func (f *Fetcher) Get(ctx context.Context, rawURL, accept string) (*Response, error) {
	return f.do(ctx, http.MethodGet, rawURL, func(r *http.Request) {
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
	}, "")
}

// PostForm posts form to rawURL. The form is never part of an error.
func (f *Fetcher) PostForm(ctx context.Context, rawURL string, form url.Values) (*Response, error) {
	return f.do(ctx, http.MethodPost, rawURL, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}, form.Encode())
}

func (f *Fetcher) do(ctx context.Context, method, rawURL string, prepare func(*http.Request), body string) (*Response, error) {
	u, host, err := f.checkURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := f.secure
	if u.Scheme == "http" {
		client = f.plain
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScheme, err)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	prepare(req)
	fail := func(err error) error { return fmt.Errorf("fetch %s %s: %w", method, host, err) }
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error would quote the whole URL; the host says enough.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fail(err)
	}
	defer resp.Body.Close()
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, FetchedAt: time.Now()}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return out, fail(fmt.Errorf("%w: status %d", ErrRedirect, resp.StatusCode))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return out, fail(fmt.Errorf("%w: %d", ErrStatus, resp.StatusCode))
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return nil, fail(fmt.Errorf("%w: Content-Length %d over %d bytes", ErrTooLarge, resp.ContentLength, f.cfg.MaxBytes))
	}
	// Counted as read, whatever Content-Length said.
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // cut off at the deadline: the body may be incomplete, whatever the read said
	}
	if err != nil {
		return nil, fail(fmt.Errorf("reading the body: %w", err))
	}
	if int64(len(b)) > f.cfg.MaxBytes {
		return nil, fail(fmt.Errorf("%w: over %d bytes", ErrTooLarge, f.cfg.MaxBytes))
	}
	out.Body = b
	return out, nil
}

// checkURL refuses a URL before any DNS: its shape, its scheme, then its
// host against DenyHosts and AllowHosts. It returns the normalized host.
func (f *Fetcher) checkURL(rawURL string) (*url.URL, string, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("%w: not a URL", ErrScheme)
	case !u.IsAbs() || u.Opaque != "" || u.Host == "":
		return nil, "", fmt.Errorf("%w: not an absolute URL with a host", ErrScheme)
	case u.User != nil:
		return nil, "", fmt.Errorf("%w: user information in the URL", ErrScheme)
	case u.Fragment != "" || strings.Contains(rawURL, "#"):
		return nil, "", fmt.Errorf("%w: fragment in the URL", ErrScheme)
	case u.Scheme == "http" && !f.cfg.AllowLoopback:
		return nil, "", fmt.Errorf("%w: http://, https:// is required", ErrScheme)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, "", fmt.Errorf("%w: scheme %q, https:// is required", ErrScheme, u.Scheme)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, "", fmt.Errorf("%w: bad port", ErrScheme)
		}
	}
	host := normalizeHost(u.Hostname())
	if _, err := netip.ParseAddr(host); err != nil && !validHostName(host) {
		return nil, "", fmt.Errorf("%w: host is not a DNS name (punycode for IDNs) or an IP address", ErrScheme)
	}
	if matchesAny(f.deny, host) {
		return nil, "", fmt.Errorf("%w: %s is denied", ErrHostNotAllowed, host)
	}
	if len(f.allow) > 0 && !matchesAny(f.allow, host) {
		return nil, "", fmt.Errorf("%w: %s is not in the allow list", ErrHostNotAllowed, host)
	}
	return u, host, nil
}
