// Package cimd resolves OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document, as the MCP authorization
// spec uses them): a client_id that is an https URL names a JSON document,
// fetched through the SSRF-safe fetcher and cached, that describes a public
// client the server has never met. The client is built in memory for each
// lookup and never stored.
package cimd

import (
	"net/url"
	"strings"
)

// maxClientIDLen bounds a client_id URL: it is carried in codes, consents
// and tokens, so a long one costs every record it lands in.
const maxClientIDLen = 1024

// LooksLikeURL reports whether id was meant as a client_id URL, so that a
// malformed one is told why (CheckClientID) rather than "not registered".
func LooksLikeURL(id string) bool {
	return strings.HasPrefix(id, "https://") || strings.HasPrefix(id, "http://")
}

// CheckClientID applies the draft's §3 rules to a client_id URL: https, a
// host, a path beyond "/", no dot segments, no fragment, no user
// information. It returns the reason a URL is refused, or "".
func CheckClientID(id string) string {
	if len(id) > maxClientIDLen {
		return "the client_id URL is too long"
	}
	u, err := url.Parse(id)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return "the client_id is not a URL"
	case u.Scheme != "https":
		return "a client_id URL must be https"
	case u.Host == "" || u.Hostname() == "":
		return "the client_id URL has no host"
	case u.User != nil:
		return "the client_id URL must not carry user information"
	case u.Fragment != "" || strings.Contains(id, "#"):
		return "the client_id URL must not have a fragment"
	case u.Path == "" || u.Path == "/":
		return "the client_id URL must have a path"
	}
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return "the client_id URL must not have . or .. path segments"
		}
	}
	return ""
}

// Host is the host (with any port) of a client_id URL, what the consent
// page names the client by: the one part of the document the server checked.
func Host(id string) string {
	u, err := url.Parse(id)
	if err != nil {
		return ""
	}
	return u.Host
}
