// Package ginresource guards Gin routes with a resource.Validator, kept
// apart so that net/http users of package resource do not import Gin.
package ginresource

import (
	"github.com/gin-gonic/gin"

	"authserver/resource"
)

// Middleware lets through requests with a valid token having the
// Validator's required scopes and scopes, the Token in the request's
// context (Token); it aborts the others with the resource challenges.
func Middleware(v *resource.Validator, scopes ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		t, err := v.Authenticate(c.Request, scopes...)
		if err != nil {
			v.WriteError(c.Writer, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(resource.NewContext(c.Request.Context(), t))
		c.Next()
	}
}

// Token is the Token Middleware accepted for this request.
func Token(c *gin.Context) (*resource.Token, bool) {
	return resource.FromContext(c.Request.Context())
}
