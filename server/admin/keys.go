package admin

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"authserver/keys"
)

// KeyManager is what the admin API does with signing keys (*keys.Manager).
type KeyManager interface {
	List(ctx context.Context) ([]keys.KeyInfo, error)
	Rotate(ctx context.Context, immediately bool) (keys.KeyInfo, error)
	Retire(ctx context.Context, kid string, immediately bool) (keys.KeyInfo, error)
}

func (a *api) listKeys(c *gin.Context) {
	list, err := a.Keys.List(c.Request.Context())
	if err != nil {
		a.fail(c, "keys.list", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"keys": list})
}

// rotateRequest is the optional body of POST /admin/keys/rotate.
type rotateRequest struct {
	// Now signs with the new key at once: for a compromised key, at the
	// price of resource servers with a cached JWKS rejecting new tokens
	// until they fetch it again.
	Now bool `json:"now"`
}

func (a *api) rotateKeys(c *gin.Context) {
	var req rotateRequest
	if err := decode(c, &req, true); err != nil {
		a.fail(c, "keys.rotate", err)
		return
	}
	k, err := a.Keys.Rotate(c.Request.Context(), req.Now)
	if err != nil {
		a.fail(c, "keys.rotate", err)
		return
	}
	a.audit(c, "keys.rotate", "kid", k.ID, "now", req.Now, "signs_from", k.SignsFrom)
	c.JSON(http.StatusOK, k)
}

// retireRequest is the optional body of POST /admin/keys/:id/retire.
type retireRequest struct {
	// Now retires the key at once: every token it signed stops verifying
	// (a compromised key, after rotating with now).
	Now bool `json:"now"`
}

func (a *api) retireKey(c *gin.Context) {
	var req retireRequest
	if err := decode(c, &req, true); err != nil {
		a.fail(c, "keys.retire", err)
		return
	}
	k, err := a.Keys.Retire(c.Request.Context(), c.Param("id"), req.Now)
	if err != nil {
		a.fail(c, "keys.retire", err)
		return
	}
	a.audit(c, "keys.retire", "kid", k.ID, "now", req.Now, "retires_at", k.RetiresAt)
	c.JSON(http.StatusOK, k)
}
