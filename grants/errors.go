package grants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/ratelimit"
)

// Error is a token-endpoint error (RFC 6749 §5.2): one of go-oauth2's error
// values as the code, our own description, and the HTTP status when it is
// not the code's usual one (429 for a lockout).
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
	return &Error{Code: code, Description: l.Error(), Status: http.StatusTooManyRequests, RetryAfter: l.RetryAfterSeconds()}
}

// statusFor is the status RFC 6749 §5.2 gives each code. go-oauth2 answers
// 401 for invalid_grant, unauthorized_client and unsupported_grant_type;
// only invalid_client is a 401.
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

// internalError is go-oauth2's InternalErrorHandler: it renders our typed
// errors; anything else is a fault on our side, logged and shown as
// server_error without details.
func internalError(log *slog.Logger) func(err error) *oerrors.Response {
	return func(err error) *oerrors.Response {
		var e *Error
		if errors.As(err, &e) {
			re := &oerrors.Response{Error: e.Code, Description: ErrorDescription(e.Description), StatusCode: e.Status}
			if e.RetryAfter > 0 {
				re.SetHeader("Retry-After", strconv.FormatInt(e.RetryAfter, 10))
			}
			return re
		}
		log.ErrorContext(requestContext(err), "token endpoint failure", "err", err)
		return &oerrors.Response{Error: oerrors.ErrServerError, Description: "internal error", StatusCode: http.StatusInternalServerError}
	}
}

// responseError is go-oauth2's ResponseErrorHandler: the last word on the
// status and headers of every error answer.
func responseError(re *oerrors.Response) {
	switch re.StatusCode {
	case http.StatusTooManyRequests, http.StatusRequestEntityTooLarge: // set on purpose by our errors
	default:
		re.StatusCode = statusFor(re.Error)
	}
	if re.Error == oerrors.ErrInvalidClient {
		// RFC 6749 §5.2: a 401 names the scheme the client should use.
		re.SetHeader("WWW-Authenticate", `Basic realm="token", charset="UTF-8"`)
	}
}

// inRequest attaches ctx to an internal error on its way through go-oauth2
// to internalError, whose signature carries no context, so the failure is
// logged with the request's id. Typed errors and go-oauth2's own are
// rendered, not logged, and pass as they are (go-oauth2 compares those).
func inRequest(ctx context.Context, err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if _, known := oerrors.Descriptions[err]; known {
		return err
	}
	return &requestError{ctx: ctx, err: err}
}

type requestError struct {
	ctx context.Context
	err error
}

func (r *requestError) Error() string { return r.err.Error() }
func (r *requestError) Unwrap() error { return r.err }

// requestContext is the context inRequest attached to err, or Background.
func requestContext(err error) context.Context {
	var r *requestError
	if errors.As(err, &r) {
		return r.ctx
	}
	return context.Background()
}
