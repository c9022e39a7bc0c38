package resource

import "net/http"

// DPoPVerifier checks the DPoP proof of a request carrying a DPoP-bound
// access token (RFC 9449 §4.3, §7.1): the DPoP header's JWT is signed by
// the key whose thumbprint is jkt, is fresh, names the request's method
// and URL, and its ath is the hash of accessToken.
//
// An error refuses the request with invalid_dpop_proof, unless it is an
// *Error (whose Code, say use_dpop_nonce, and DPoPNonce are used as is).
type DPoPVerifier interface {
	VerifyProof(r *http.Request, accessToken, jkt string) error
}
