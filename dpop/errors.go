package dpop

import "errors"

var (
	// ErrInvalidProof is a missing, malformed, unverifiable or stale proof,
	// or one that does not fit the request (invalid_dpop_proof).
	ErrInvalidProof = errors.New("invalid DPoP proof")
	// ErrUseNonce is a proof without the current server nonce
	// (use_dpop_nonce); the caller answers with a DPoP-Nonce header.
	ErrUseNonce = errors.New("DPoP nonce required")
	// ErrKeyMismatch is a valid proof signed by a key other than the one
	// the token is bound to. It is also an ErrInvalidProof.
	ErrKeyMismatch = &kindError{msg: "DPoP key does not match the bound key", parent: ErrInvalidProof}
)

// Error is a refused proof: Code is one of the Err* values above, and
// Description says why in words safe to show the client.
type Error struct {
	Code        error
	Description string
}

func (e *Error) Error() string { return "dpop: " + e.Description }

func (e *Error) Unwrap() error { return e.Code }

// kindError is a sentinel that is also its parent, so a caller that only
// knows ErrInvalidProof still answers ErrKeyMismatch correctly.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() error { return e.parent }

func invalid(description string) error {
	return &Error{Code: ErrInvalidProof, Description: description}
}

func useNonce(description string) error {
	return &Error{Code: ErrUseNonce, Description: description}
}
