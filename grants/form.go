package grants

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// readTokenForm reads the request body into r.PostForm and r.Form, so that
// go-oauth2, which reads r.FormValue, sees the body and nothing else: RFC
// 6749 §2.3.1 keeps credentials out of the query string, and §3.2 forbids
// repeated parameters (but resource, which RFC 8707 §2 lets repeat).
func readTokenForm(w http.ResponseWriter, r *http.Request, maxBytes int64) *Error {
	if r.Method != http.MethodPost {
		return oauthErr(oerrors.ErrInvalidRequest, "this endpoint accepts POST only")
	}
	if r.URL.RawQuery != "" {
		return oauthErr(oerrors.ErrInvalidRequest, "parameters must be sent in the request body, not the query string")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return oauthErr(oerrors.ErrInvalidRequest, "Content-Type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Code: oerrors.ErrInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
		}
		return oauthErr(oerrors.ErrInvalidRequest, "could not read the request body")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthErr(oerrors.ErrInvalidRequest, "malformed request body")
	}
	for name, v := range form {
		if len(v) > 1 && name != "resource" { // RFC 8707 §2: resource may repeat
			return oauthErr(oerrors.ErrInvalidRequest, "a parameter is repeated") // not named: the name is the caller's text
		}
	}
	r.PostForm, r.Form = form, form
	return nil
}
