package grants

import (
	"errors"
	"net/http"
	"strings"

	"authserver/dpop"
)

// Authorization schemes UserInfo accepts.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// userInfoProof is the DPoP rule of UserInfo (RFC 9449 §7): a bound token
// comes with the DPoP scheme and a proof by its key over this request and
// this token (ath); a bound token sent as Bearer (or in a form body) is
// refused, since whoever stole it has no key. An unbound token is a bearer
// token and nothing else.
func (e *Endpoint) userInfoProof(r *http.Request, scheme, token string, claims *AccessClaims) error {
	bound := claims.Cnf != nil
	switch {
	case !bound && scheme != schemeDPoP:
		return nil
	case !bound:
		return &bearerError{status: http.StatusUnauthorized, code: "invalid_token", desc: "the access token is not DPoP-bound: send it with the Bearer scheme", dpop: true}
	case scheme != schemeDPoP || e.dpop == nil:
		return &bearerError{status: http.StatusUnauthorized, code: "invalid_token", desc: "a DPoP-bound access token needs the DPoP scheme and a DPoP proof", dpop: true}
	}
	value, err := dpop.HeaderValue(r.Header)
	if err == nil {
		_, err = e.dpop.Verify(r.Context(), dpop.Request{
			Proof: value, Method: r.Method, URL: e.issuer.URL() + "/userinfo",
			AccessToken: token, ExpectedJKT: claims.Cnf.JKT,
		})
	}
	var de *dpop.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &de):
		return proofError(err) // the replay store's outage or a fault
	case errors.Is(err, dpop.ErrKeyMismatch):
		// The token is fine; the caller is not its holder.
		return &bearerError{status: http.StatusUnauthorized, code: "invalid_token", desc: de.Description, dpop: true}
	case errors.Is(err, dpop.ErrUseNonce):
		return &bearerError{status: http.StatusUnauthorized, code: ErrUseDPoPNonce.Error(), desc: de.Description, dpop: true}
	}
	return &bearerError{status: http.StatusUnauthorized, code: ErrInvalidDPoPProof.Error(), desc: de.Description, dpop: true}
}

// onScheme puts a refusal of a DPoP request on the DPoP challenge.
func onScheme(err error, scheme string) error {
	var be *bearerError
	if scheme != schemeDPoP || !errors.As(err, &be) || be.dpop {
		return err
	}
	c := *be
	c.dpop = true
	return &c
}

// dpopChallenge is the DPoP challenge of UserInfo without an error.
func dpopChallenge(v *dpop.Verifier) string {
	algs := v.Algorithms
	if len(algs) == 0 {
		algs = dpop.DefaultAlgorithms
	}
	return `DPoP realm="` + userInfoRealm + `", algs="` + strings.Join(algs, " ") + `"`
}
