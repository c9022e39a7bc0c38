package dpop

import (
	"net/http"
	"strings"
)

// HeaderValue is the request's one DPoP header value, or "" when it has
// none (a request without DPoP). More than one DPoP header is refused
// (RFC 9449 §4.3 item 1).
func HeaderValue(h http.Header) (string, error) {
	values := h.Values("DPoP")
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	}
	return "", invalid("more than one DPoP header")
}

// checkCompactJWS refuses anything but one compact JWS before it is
// parsed: a comma is two header values joined by a proxy, a space or
// anything else outside base64url is not a JWS at all.
func checkCompactJWS(proof string) error {
	if proof == "" {
		return invalid("DPoP proof is missing")
	}
	if len(proof) > maxProofBytes {
		return invalid("DPoP proof is too large")
	}
	if strings.Contains(proof, ",") {
		return invalid("more than one DPoP proof")
	}
	for i := 0; i < len(proof); i++ {
		if c := proof[i]; c != '.' && c != '-' && c != '_' && !isAlphanumeric(c) {
			return invalid("DPoP proof is not a compact JWS")
		}
	}
	if strings.Count(proof, ".") != 2 {
		return invalid("DPoP proof is not a compact JWS")
	}
	return nil
}

func isAlphanumeric(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
