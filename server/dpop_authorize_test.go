package server_test

import (
	"testing"

	"authserver/clients"
)

// RFC 9449 §10: a dpop_jkt that cannot be a thumbprint is refused at the
// client's redirect URI, before any sign-in.
func TestAuthorizeRefusesMalformedDPoPJKT(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{})
	b := newBrowser(t)
	for _, bad := range []string{"short", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I=", "0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I"} {
		wantRedirectError(t, s, b.get(s.authURL(id, "dpop_jkt", bad)), "invalid_request")
	}
}
