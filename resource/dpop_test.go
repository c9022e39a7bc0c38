package resource_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"authserver/resource"
)

// hook records the calls of a DPoPVerifier and answers err.
type hook struct {
	mu    sync.Mutex
	calls []string // token + " " + jkt
	err   error
}

func (h *hook) VerifyProof(r *http.Request, accessToken, jkt string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Header.Get("DPoP") == "" {
		return errors.New("no DPoP header")
	}
	h.calls = append(h.calls, accessToken+" "+jkt)
	return h.err
}

const dpopAlgs = `algs="ES256 RS256 EdDSA"`

// A token with cnf.jkt is refused as Bearer (RFC 9449 §7.1) and goes to
// the hook with the DPoP scheme; an unbound token is refused with DPoP.
func TestDPoPBoundToken(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	clk := newClock()
	h := &hook{}
	v := validator(t, resource.Config{Issuer: stubIssuer, Audience: photosAPI, JWKSURL: as.srv.URL, Now: clk.Now, DPoP: h, Realm: "photos"})
	c := claims(clk.Now())
	c["cnf"] = map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	bound := mint(t, k, c, nil)
	md := `resource_metadata="` + photosMetadata + `"`

	// No DPoP credentials: both challenges, no error.
	wantChallenge(t, serve(v, get("")), 401, `Bearer realm="photos", `+md, `DPoP realm="photos", `+dpopAlgs+`, `+md)

	wantChallenge(t, serve(v, get("Bearer "+bound)), 401,
		`Bearer realm="photos", error="invalid_token", error_description="DPoP-bound token needs the DPoP scheme and a proof", `+md,
		`DPoP realm="photos", `+dpopAlgs+`, `+md)
	if len(h.calls) != 0 {
		t.Fatalf("hook called for a Bearer request: %v", h.calls)
	}

	req := get("DPoP " + bound)
	req.Header.Set("DPoP", "a.proof.jwt")
	rec := serve(v, req)
	if rec.Code != 200 || len(h.calls) != 1 || h.calls[0] != bound+" 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" {
		t.Fatalf("DPoP request: %d %s, calls %v", rec.Code, rec.Body, h.calls)
	}
	tok, err := v.Authenticate(req)
	if err != nil || tok.JKT != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" {
		t.Fatalf("%+v %v", tok, err)
	}

	// The hook refuses: the error goes on the DPoP challenge.
	h.err = errors.New("proof htu does not match")
	wantChallenge(t, serve(v, req), 401, `Bearer realm="photos", `+md,
		`DPoP realm="photos", `+dpopAlgs+`, error="invalid_dpop_proof", error_description="proof htu does not match", `+md)
	_, err = v.Authenticate(req)
	refused(t, err, resource.ErrDPoPProof)

	// The hook asks for a nonce (RFC 9449 §9).
	h.err = &resource.Error{Code: resource.CodeUseDPoPNonce, Description: "use the nonce", DPoPNonce: "n-1"}
	rec = serve(v, req)
	wantChallenge(t, rec, 401, `Bearer realm="photos", `+md,
		`DPoP realm="photos", `+dpopAlgs+`, error="use_dpop_nonce", error_description="use the nonce", `+md)
	if rec.Header().Get("DPoP-Nonce") != "n-1" {
		t.Errorf("DPoP-Nonce %q", rec.Header().Get("DPoP-Nonce"))
	}

	// An unbound token with the DPoP scheme.
	h.err = nil
	plain := get("DPoP " + mint(t, k, claims(clk.Now()), nil))
	plain.Header.Set("DPoP", "a.proof.jwt")
	wantChallenge(t, serve(v, plain), 401, `Bearer realm="photos", `+md,
		`DPoP realm="photos", `+dpopAlgs+`, error="invalid_token", error_description="token is not DPoP-bound", `+md)

	// Scope errors of DPoP requests are challenged on DPoP too.
	wantChallenge(t, serve(v, req, "photos:write"), 403, `Bearer realm="photos", `+md,
		`DPoP realm="photos", `+dpopAlgs+`, error="insufficient_scope", error_description="token lacks scope photos:write", scope="photos:write", `+md)
}

// Without a DPoPVerifier a bound token is refused whatever the scheme.
func TestDPoPBoundTokenWithoutHook(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	clk := newClock()
	v := stubValidator(t, as, clk)
	c := claims(clk.Now())
	c["cnf"] = map[string]any{"jkt": "thumb"}
	bound := mint(t, k, c, nil)
	_, err := v.Authenticate(get("Bearer " + bound))
	refused(t, err, resource.ErrDPoPRequired)
	_, err = v.Authenticate(get("DPoP " + bound))
	refused(t, err, resource.ErrNoToken)
	// Validate alone reports the binding; the caller must check it.
	tok, err := v.Validate(t.Context(), bound)
	if err != nil || tok.JKT != "thumb" {
		t.Fatalf("%+v %v", tok, err)
	}
}
