package grants

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/dpop"
	"authserver/store"
	"authserver/tokens"
)

// DPoP (RFC 9449) at the token endpoint: a request with a DPoP header has
// its proof verified after the client is authenticated and before the
// grant's own work, so a bad proof consumes no code and rotates no refresh
// token. A valid proof binds the access token to the proof key (cnf.jkt,
// token_type DPoP) and, for a public client, the refresh-token family too
// (§5): a confidential client's refresh tokens are already bound to its
// credentials. A request without the header is answered as before.

// Error codes of RFC 9449 §5 and §8. go-oauth2 does not know them.
var (
	ErrInvalidDPoPProof = errors.New("invalid_dpop_proof")
	ErrUseDPoPNonce     = errors.New("use_dpop_nonce")
)

// TokenTypeDPoP is the token_type of a DPoP-bound access token, in token
// answers (§5) and introspection (§6.2).
const TokenTypeDPoP = "DPoP"

// Confirmation is the cnf claim of a DPoP-bound access token (§6.1).
type Confirmation struct {
	JKT string `json:"jkt"`
}

// jkt is c's thumbprint; "" for no confirmation (a nil c).
func (c *Confirmation) jkt() string {
	if c == nil {
		return ""
	}
	return c.JKT
}

func confirmation(jkt string) *Confirmation {
	if jkt == "" {
		return nil
	}
	return &Confirmation{JKT: jkt}
}

func tokenType(jkt string) string {
	if jkt != "" {
		return TokenTypeDPoP
	}
	return TokenTypeAccess
}

// ValidJKT reports whether s can be a JWK SHA-256 thumbprint (the
// dpop_jkt of an authorization request, §10): 43 base64url characters.
func ValidJKT(s string) bool { return ValidS256Challenge(s) }

// dpopHeader is "DPoP" as net/http keys it.
var dpopHeader = http.CanonicalHeaderKey("DPoP")

// offerNonce sends the current server nonce on every answer when nonces
// are required (§8.2), so a client has the next one before it needs it.
func (e *Endpoint) offerNonce(w http.ResponseWriter) {
	if e.dpop != nil && e.dpop.Nonces != nil {
		w.Header().Set("DPoP-Nonce", e.dpop.Nonces.Current(e.dpopNow()))
	}
}

func (e *Endpoint) dpopNow() time.Time {
	if e.dpop.Now != nil {
		return e.dpop.Now()
	}
	return time.Now()
}

// tokenProof verifies the request's DPoP proof, if it has one, and records
// its key in req.jkt. The htu is the token endpoint as the issuer names it
// (the metadata's token_endpoint), never what the Host header says. Without
// a Verifier the server offers no DPoP and ignores the header, as a server
// that does not know it would.
func (e *Endpoint) tokenProof(r *http.Request, req *tokenRequest) error {
	if _, ok := r.Header[dpopHeader]; !ok || e.dpop == nil {
		return nil // the common case, without HeaderValue's key canonicalization
	}
	value, err := dpop.HeaderValue(r.Header)
	if err != nil {
		return proofError(err)
	}
	if value == "" {
		return nil
	}
	p, err := e.dpop.Verify(r.Context(), dpop.Request{Proof: value, Method: r.Method, URL: e.issuer.URL() + "/token"})
	if err != nil {
		return proofError(err)
	}
	req.jkt = p.JKT
	return nil
}

// proofError is the token-endpoint answer to a refused proof.
func proofError(err error) error {
	var de *dpop.Error
	switch {
	case errors.Is(err, dpop.ErrUseNonce) && errors.As(err, &de):
		return &Error{Code: ErrUseDPoPNonce, Description: de.Description}
	case errors.Is(err, dpop.ErrInvalidProof) && errors.As(err, &de):
		return &Error{Code: ErrInvalidDPoPProof, Description: de.Description}
	case errors.Is(err, dpop.ErrReplayCacheFull):
		// Refusing every proof for a moment is safe; forgetting one is not.
		return &Error{Code: oerrors.ErrTemporarilyUnavailable, Description: "the service is temporarily unavailable; retry after the time in Retry-After",
			Status: http.StatusServiceUnavailable, RetryAfter: int64(store.RetryAfter / time.Second)}
	}
	return err // the replay store's outage (503) or a fault (500)
}

// familyJKT is the key a new refresh-token family is bound to: the proof
// key of a public client, nothing for a confidential one (§5).
func familyJKT(req *tokenRequest) string {
	if req.client.Public {
		return req.jkt
	}
	return ""
}

// checkFamilyKey refuses a refresh of a bound family that does not prove
// the family's key, before anything rotates: a stolen token then changes
// nothing, and the owner's copy stays current. Only public clients' families
// are bound, so only their refreshes pay this read; the key never changes
// once the family exists, so reading it first is safe.
func (e *Endpoint) checkFamilyKey(ctx context.Context, req *tokenRequest, familyID string) error {
	if !req.client.Public {
		return nil
	}
	f, err := e.families.GetFamily(ctx, familyID)
	switch {
	case errors.Is(err, tokens.ErrFamilyNotFound):
		return nil // the rotation answers invalid_grant
	case err != nil:
		return err
	case f.ClientID != req.client.ID:
		return nil // likewise: another client learns nothing of the binding
	}
	return e.familyKeyMatches(ctx, f, req)
}

// familyKeyMatches is the binding rule of a family (§5): a bound family
// needs a proof of its key; an unbound one takes any proof or none.
func (e *Endpoint) familyKeyMatches(ctx context.Context, f tokens.Family, req *tokenRequest) error {
	return e.boundKeyMatches(ctx, req, f.JKT, "refresh token", audit.FamilyID(f.ID), audit.UserID(f.UserID))
}

// codeKeyMatches holds the dpop_jkt of the authorization request (§10):
// the exchange must prove that key.
func (e *Endpoint) codeKeyMatches(ctx context.Context, c tokens.Code, req *tokenRequest) error {
	return e.boundKeyMatches(ctx, req, c.DPoPJKT, "authorization code", audit.UserID(c.UserID))
}

// boundKeyMatches refuses, and audits, a request that does not prove the
// key a token is bound to: most likely a stolen token.
func (e *Endpoint) boundKeyMatches(ctx context.Context, req *tokenRequest, bound, what string, attrs ...any) error {
	if bound == "" || bound == req.jkt {
		return nil
	}
	e.events.Warn(ctx, audit.DPoPKeyMismatch, append(attrs, audit.ClientID(req.client.ID), slog.String("what", what))...)
	if req.jkt == "" {
		return oauthErr(ErrInvalidDPoPProof, "this %s is bound to a DPoP key: send a DPoP proof made with it", what)
	}
	return oauthErr(ErrInvalidDPoPProof, "the DPoP proof key is not the key this %s is bound to", what)
}
