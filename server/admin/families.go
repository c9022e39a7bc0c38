package admin

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/tokens"
)

// FamilyView is a refresh-token family (one signed-in device) as the admin
// API shows it: never a token hash, never the last access token's jti.
type FamilyView struct {
	ID            string    `json:"id"`
	ClientID      string    `json:"client_id"`
	Scope         string    `json:"scope"`
	AuthTime      time.Time `json:"auth_time"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

// NewFamilyView returns the admin view of f.
func NewFamilyView(f tokens.Family) FamilyView {
	return FamilyView{
		ID: f.ID, ClientID: f.ClientID, Scope: f.Scope, AuthTime: f.AuthTime,
		CreatedAt: f.CreatedAt, ExpiresAt: f.ExpiresAt, IdleExpiresAt: f.IdleExpiresAt,
	}
}

// listFamilies is GET /admin/users/:id/families: where the user is signed
// in, oldest first.
func (a *api) listFamilies(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	if _, err := a.Users.Get(ctx, id); err != nil {
		a.fail(c, "users.families", err)
		return
	}
	fams, err := a.Families.ListUserFamilies(ctx, id)
	if err != nil {
		a.fail(c, "users.families", err)
		return
	}
	slices.SortFunc(fams, func(x, y tokens.Family) int {
		if d := x.CreatedAt.Compare(y.CreatedAt); d != 0 {
			return d
		}
		return strings.Compare(x.ID, y.ID)
	})
	views := make([]FamilyView, 0, len(fams))
	for _, f := range fams {
		views = append(views, NewFamilyView(f))
	}
	c.JSON(http.StatusOK, gin.H{"families": views})
}

// signOut is DELETE /admin/users/:id/families: sign out everywhere. Every
// live family is revoked (and, with Deny, its newest access token denied);
// the user may sign in again.
func (a *api) signOut(c *gin.Context) {
	const action = "users.sign_out"
	ctx, id := c.Request.Context(), c.Param("id")
	if _, err := a.Users.Get(ctx, id); err != nil {
		a.fail(c, action, err)
		return
	}
	n, err := a.revokeUser(ctx, id, action)
	if err != nil {
		a.fail(c, action, err)
		return
	}
	a.audit(c, action, "user_id", id, "families_revoked", n)
	c.JSON(http.StatusOK, gin.H{"families_revoked": n})
}
