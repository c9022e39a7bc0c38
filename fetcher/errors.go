package fetcher

import "errors"

// The sentinel errors of a refused or failed fetch. Each is returned
// wrapped with detail (an address, a host, a status), never with the
// response body or the form sent; test with errors.Is.
var (
	// ErrForbiddenAddress is a host that resolves to an address that is
	// not on the public internet: loopback (unless allowed), private,
	// link-local, CGNAT, multicast, reserved, documentation.
	ErrForbiddenAddress = errors.New("fetcher: address not allowed")
	// ErrScheme is a URL the fetcher will not use: not https (http only to
	// loopback, when allowed), not absolute, with user information or a
	// fragment, or a host that is not ASCII.
	ErrScheme = errors.New("fetcher: URL not allowed")
	// ErrHostNotAllowed is a host outside Config.AllowHosts or inside
	// Config.DenyHosts.
	ErrHostNotAllowed = errors.New("fetcher: host not allowed")
	// ErrTooLarge is a body longer than Config.MaxBytes.
	ErrTooLarge = errors.New("fetcher: response too large")
	// ErrRedirect is a 3xx answer: redirects are never followed.
	ErrRedirect = errors.New("fetcher: redirect not followed")
	// ErrStatus is any other answer outside 2xx.
	ErrStatus = errors.New("fetcher: unexpected status")
)
