package resource

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

type ctxKey struct{}

// NewContext returns ctx carrying t, as Middleware passes it on.
func NewContext(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext is the Token Middleware accepted for this request.
func FromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Token)
	return t, ok
}

// Middleware lets through requests carrying a valid token with
// Config.RequiredScopes and scopes, the Token in their context
// (FromContext); it answers the others with WriteError.
func (v *Validator) Middleware(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, err := v.Authenticate(r, scopes...)
			if err != nil {
				v.WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), t)))
		})
	}
}

// Authenticate finds the access token of r, validates it, checks its
// DPoP binding and that it has Config.RequiredScopes and scopes. Only the
// Authorization header is read (RFC 6750 §2.1); the body never is.
func (v *Validator) Authenticate(r *http.Request, scopes ...string) (*Token, error) {
	scheme, token, err := v.credentials(r)
	if err != nil {
		return nil, err
	}
	dpop := strings.EqualFold(scheme, "DPoP")
	t, err := v.authenticate(r, dpop, token, scopes)
	var e *Error
	if errors.As(err, &e) {
		c := *e // the hook's may be shared
		c.dpop = dpop
		return nil, &c
	}
	return t, err
}

func (v *Validator) authenticate(r *http.Request, dpop bool, token string, scopes []string) (*Token, error) {
	t, err := v.Validate(r.Context(), token)
	if err != nil {
		return nil, err
	}
	switch {
	case t.JKT != "" && (!dpop || v.cfg.DPoP == nil):
		// RFC 9449 §7.1: a bound token is no bearer token.
		return nil, invalidToken(ErrDPoPRequired, "")
	case dpop && t.JKT == "":
		return nil, invalidToken(ErrNotBound, "")
	case dpop:
		if err := v.cfg.DPoP.VerifyProof(r, token, t.JKT); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, e
			}
			return nil, &Error{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Description: err.Error(), err: errors.Join(ErrDPoPProof, err)}
		}
	}
	need := append(slices.Clone(v.cfg.RequiredScopes), scopes...)
	for _, s := range need {
		if !t.HasScope(s) {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
				Description: "token lacks scope " + s, Scope: strings.Join(need, " "), err: ErrScope}
		}
	}
	return t, nil
}

// credentials reads the scheme and token of the Authorization header.
// Any other scheme counts as no credentials (RFC 6750 §3.1), so does
// DPoP when no DPoPVerifier is configured.
func (v *Validator) credentials(r *http.Request) (scheme, token string, err error) {
	inQuery := r.URL.Query().Has("access_token")
	headers := r.Header.Values("Authorization")
	switch {
	case len(headers) > 1:
		return "", "", invalidRequest("more than one Authorization header")
	case len(headers) == 0 && inQuery:
		return "", "", invalidRequest("send the access token in the Authorization header only")
	case len(headers) == 0:
		return "", "", noToken()
	}
	scheme, token, _ = strings.Cut(headers[0], " ")
	if !strings.EqualFold(scheme, "Bearer") && !(strings.EqualFold(scheme, "DPoP") && v.cfg.DPoP != nil) {
		return "", "", noToken()
	}
	if inQuery {
		return "", "", invalidRequest("access token sent by more than one method")
	}
	token = strings.TrimLeft(token, " ")
	if !isToken68(token) {
		return "", "", invalidRequest("malformed " + scheme + " credentials")
	}
	return scheme, token, nil
}

func noToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Description: ErrNoToken.Error(), err: ErrNoToken}
}

// isToken68 is the b64token syntax of RFC 6750 §2.1.
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}
