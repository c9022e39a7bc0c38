package grants

import (
	"fmt"
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/ratelimit"
)

// Error is a token-endpoint error (RFC 6749 §5.2): one of go-oauth2's error
// values as the code, our own description, and the HTTP status when it is
// not the code's usual one (429 for a lockout, 413 for a large body).
type Error struct {
	Code        error
	Description string
	Status      int
	RetryAfter  int64 // seconds, for a lockout
}

func (e *Error) Error() string { return e.Code.Error() + ": " + e.Description }

func oauthErr(code error, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// limited turns a lockout into the answer a client sees: the code of the
// check that locked, 429 and Retry-After.
func limited(code error, l *ratelimit.LimitedError) *Error {
	// A fixed description: the time left is in Retry-After, and a body that
	// never varies tells a locked known user from a locked unknown one by
	// nothing.
	return &Error{Code: code, Description: "too many failed attempts; retry after the time in Retry-After", Status: http.StatusTooManyRequests, RetryAfter: l.RetryAfterSeconds()}
}

// statusFor is the status RFC 6749 §5.2 gives each code: only
// invalid_client is a 401 (go-oauth2's StatusCodes table answers 401 for
// invalid_grant, unauthorized_client and unsupported_grant_type too).
func statusFor(code error) int {
	switch code {
	case oerrors.ErrInvalidClient:
		return http.StatusUnauthorized
	case oerrors.ErrServerError:
		return http.StatusInternalServerError
	case oerrors.ErrTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}
