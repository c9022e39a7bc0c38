package resource

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// WriteError answers a refusal from Authenticate (or Validate): status,
// RFC 6750 §3 Bearer challenge, and a DPoP one (RFC 9449 §7.1) when DPoP
// is configured, each with resource_metadata (RFC 9728 §5.1). The error
// code goes on the challenge of the scheme the request used.
func (v *Validator) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusServiceUnavailable, Description: "cannot check the access token now"}
	}
	if e.Status == 0 {
		c := *e
		c.Status = http.StatusUnauthorized
		e = &c
	}
	h := w.Header()
	if e.Status == http.StatusServiceUnavailable {
		// Not the token's fault: no challenge, which would make clients
		// throw good tokens away.
		h.Set("Retry-After", "10")
		http.Error(w, e.Description, e.Status)
		return
	}
	dpop := v.cfg.DPoP != nil
	onDPoP := dpop && e.dpop
	h.Add("WWW-Authenticate", v.challenge("Bearer", "", e, !onDPoP))
	if dpop {
		h.Add("WWW-Authenticate", v.challenge("DPoP", strings.Join(v.cfg.DPoPSigningAlgs, " "), e, onDPoP))
		if e.DPoPNonce != "" {
			h.Set("DPoP-Nonce", e.DPoPNonce)
		}
	}
	h.Set("Cache-Control", "no-store")
	if e.Code == "" {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Description})
}

// challenge renders one challenge; withError adds e's code, description
// and scope.
func (v *Validator) challenge(scheme, algs string, e *Error, withError bool) string {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	param := func(name, val string) {
		b.WriteString(sep + name + `="` + quotable(val) + `"`)
		sep = ", "
	}
	param("realm", v.cfg.Realm)
	if algs != "" {
		param("algs", algs)
	}
	if withError && e.Code != "" {
		param("error", e.Code)
		if e.Description != "" {
			param("error_description", e.Description)
		}
		if e.Scope != "" {
			param("scope", e.Scope)
		}
	}
	param("resource_metadata", v.MetadataURL())
	return b.String()
}

// quotable keeps what RFC 6750 §3 allows in its quoted values: printable
// ASCII without '"' and '\'.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
