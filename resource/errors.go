package resource

import (
	"errors"
	"net/http"
)

// Error codes of RFC 6750 §3.1 and RFC 9449 §7.1.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
	CodeInvalidDPoPProof  = "invalid_dpop_proof"
	CodeUseDPoPNonce      = "use_dpop_nonce"
)

// Reasons a token or request is refused; an *Error wraps one of them, so
// errors.Is tells them apart.
var (
	ErrNoToken         = errors.New("no access token")
	ErrMalformed       = errors.New("malformed access token")
	ErrType            = errors.New("not an access token (typ)")
	ErrAlgorithm       = errors.New("signing algorithm not allowed")
	ErrUnknownKey      = errors.New("unknown signing key")
	ErrSignature       = errors.New("bad signature")
	ErrIssuer          = errors.New("wrong issuer")
	ErrAudience        = errors.New("token is not for this resource")
	ErrExpired         = errors.New("token expired")
	ErrNotYetValid     = errors.New("token not valid yet")
	ErrScope           = errors.New("insufficient scope")
	ErrDPoPRequired    = errors.New("DPoP-bound token needs the DPoP scheme and a proof")
	ErrNotBound        = errors.New("token is not DPoP-bound")
	ErrDPoPProof       = errors.New("bad DPoP proof")
	ErrKeysUnavailable = errors.New("signing keys unavailable")
)

// Error is a refusal: its Status and Code are what the middleware
// answers (Code empty for a request with no credentials, RFC 6750 §3.1).
type Error struct {
	Status      int
	Code        string
	Description string
	// Scope is the scope the request needed (insufficient_scope).
	Scope string
	// DPoPNonce, when set, is sent as the DPoP-Nonce header (RFC 9449 §9).
	DPoPNonce string
	// dpop marks errors about the DPoP scheme, challenged on it.
	dpop bool
	err  error
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	if e.Code == "" {
		return e.Description
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.err }

func invalidToken(reason error, detail string) *Error {
	d := reason.Error()
	if detail != "" {
		d += ": " + detail
	}
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: d, err: reason}
}

func invalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: desc, err: ErrMalformed}
}
