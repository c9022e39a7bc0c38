package server

import (
	"errors"

	"github.com/gin-gonic/gin"

	"authserver/grants"
	"authserver/resources"
)

// parseResources checks the resource parameters of an authorization
// request (RFC 8707 §2, which lets them repeat): well formed, registered,
// and leaving a scope of the granted one. They are errors at the client's
// redirect URI, as every error after it is validated; the code is bound
// to them (tokens.Code.Resources). It reports whether the request may go
// on; when not, the answer is written.
func (a *Authorize) parseResources(c *gin.Context, req *authRequest) bool {
	values := req.query["resource"]
	if len(values) == 0 {
		return true
	}
	rs, err := a.d.Codes.CheckResources(c.Request.Context(), values, req.scope)
	var oe *grants.Error
	switch {
	case errors.As(err, &oe):
		a.redirectError(c, req, oe.Code.Error(), oe.Description)
		return false
	case err != nil:
		a.serverError(c, req, err)
		return false
	}
	req.resources = rs
	return true
}

func resourceIDs(rs []resources.Resource) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// describeResources names, on the consent page, the APIs the app's tokens
// will be for.
func describeResources(rs []resources.Resource) []scopeView {
	var out []scopeView
	for _, r := range rs {
		out = append(out, scopeView{Name: r.ID, Description: "Use " + r.Name})
	}
	return out
}
