// Package dpop checks and makes DPoP proofs (RFC 9449): the JWT a client
// signs with its own key for each request, so an access or refresh token
// bound to that key (cnf.jkt) is useless to whoever steals it.
//
// The authorization server verifies a proof at /token, binding the tokens
// it issues to the proof key's thumbprint, and at /userinfo; the resource
// server verifies one with every DPoP-bound access token. Both use a
// Verifier:
//
//	proof, err := verifier.Verify(ctx, dpop.Request{
//		Proof:       value,        // from HeaderValue(r.Header)
//		Method:      r.Method,
//		URL:         "https://as.example.com/token", // as the server is reached
//		AccessToken: "",           // the access token, except at /token
//		ExpectedJKT: "",           // cnf.jkt of the token or refresh family
//	})
//
// Errors: ErrInvalidProof answers invalid_dpop_proof; ErrUseNonce answers
// use_dpop_nonce with a DPoP-Nonce header of Nonces.Current;
// ErrKeyMismatch (also an ErrInvalidProof) is a valid proof by a key other
// than the bound one, which a resource server answers with invalid_token.
// Any other error is the server's own (the replay store, a bad request
// URL). Errors of the first three kinds are an *Error whose Description is
// safe to show the client.
//
// Replay protection needs a shared ReplayCache when more than one server
// node verifies proofs; MemoryReplayCache is for a single node and tests.
// Nonces are stateless (an HMAC of the time window), so any node with the
// same secret accepts the nonce another node handed out.
package dpop
