package server

import (
	"net/url"
	"strings"
)

// matchRedirectURI reports whether requested is one of the registered
// redirect URIs: compared as strings, exactly (RFC 6749 §3.1.2.3, RFC 9700
// §4.1.3), except that a loopback http URI may name any port (RFC 8252
// §7.3). No parsing-then-comparing of hosts: that is how suffix matches,
// userinfo and backslash tricks get through.
func matchRedirectURI(registered []string, requested string) bool {
	if requested == "" {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	host, rest, ok := splitLoopback(requested)
	if !ok {
		return false
	}
	for _, r := range registered {
		if rh, rrest, ok := splitLoopback(r); ok && rh == host && rrest == rest {
			return true
		}
	}
	return false
}

// splitLoopback splits "http://<loopback host>[:<port>]<rest>" into the host
// and the rest (path and query), leaving the port out; ok is false for
// anything else.
func splitLoopback(raw string) (host, rest string, ok bool) {
	s, found := strings.CutPrefix(raw, "http://")
	if !found || strings.ContainsAny(raw, "#\\") {
		return "", "", false
	}
	end := strings.IndexAny(s, "/?")
	if end < 0 {
		end = len(s)
	}
	authority, rest := s[:end], s[end:]
	host, port := authority, ""
	if !strings.HasSuffix(authority, "]") {
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port = authority[:i], authority[i+1:]
			if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
				return "", "", false
			}
		}
	}
	switch host {
	case "127.0.0.1", "[::1]", "localhost":
		return host, rest, true
	}
	return "", "", false
}

// appendQuery adds params to a redirect URI, keeping its own query as it
// is (RFC 6749 §3.1.2).
func appendQuery(uri string, params url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
		if strings.HasSuffix(uri, "?") || strings.HasSuffix(uri, "&") {
			sep = ""
		}
	}
	return uri + sep + params.Encode()
}

// formActionSource is the CSP source that lets the pages' forms end in a
// redirect to uri (Chromium applies form-action to the redirects that
// follow a form submission).
func formActionSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	if u.Host == "" || strings.Trim(strings.ToLower(u.Host), "abcdefghijklmnopqrstuvwxyz0123456789.-:") != "" {
		// A private-use scheme, or a host (an IPv6 literal) that a CSP
		// host source cannot name: allow the scheme.
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}
