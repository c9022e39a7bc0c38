package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/audit"
	"authserver/users"
)

// UserView is a user as the admin API shows it: never the password hash.
// The profile claims sit beside the other fields, named as in OpenID
// Connect, and only those that are set.
type UserView struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	users.Profile
}

// NewUserView returns the admin view of u.
func NewUserView(u *users.User) UserView {
	return UserView{ID: u.ID, Username: u.Username, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Profile: u.Profile}
}

func (a *api) createUser(c *gin.Context) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
		users.Profile
	}
	if err := decode(c, &req, false); err != nil {
		a.fail(c, "users.create", err)
		return
	}
	u, err := a.Users.CreateWithProfile(c.Request.Context(), req.Username, req.Password, req.Profile)
	if err != nil {
		a.fail(c, "users.create", err)
		return
	}
	a.audit(c, "users.create", "user_id", u.ID, audit.Username(u.Username))
	c.JSON(http.StatusCreated, NewUserView(u))
}

func (a *api) listUsers(c *gin.Context) {
	if name, ok := c.GetQuery("username"); ok {
		a.findUser(c, name)
		return
	}
	list, err := a.Users.List(c.Request.Context())
	if err != nil {
		a.fail(c, "users.list", err)
		return
	}
	views := make([]UserView, 0, len(list))
	for _, u := range list {
		views = append(views, NewUserView(u))
	}
	c.JSON(http.StatusOK, gin.H{"users": views})
}

// findUser is GET /admin/users?username=: the list filtered to the one user
// with that username, or to none.
func (a *api) findUser(c *gin.Context, name string) {
	views := []UserView{}
	u, err := a.Users.GetByUsername(c.Request.Context(), name)
	switch {
	case err == nil:
		views = append(views, NewUserView(u))
	case !errors.Is(err, users.ErrNotFound):
		a.fail(c, "users.list", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"users": views})
}

func (a *api) getUser(c *gin.Context) {
	u, err := a.Users.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		a.fail(c, "users.get", err)
		return
	}
	c.JSON(http.StatusOK, NewUserView(u))
}

func (a *api) deleteUser(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	delErr := a.Users.Delete(ctx, id)
	if delErr != nil && !errors.Is(delErr, users.ErrNotFound) {
		a.fail(c, "users.delete", delErr)
		return
	}
	// Families are swept even when the user is already gone, so retrying a
	// delete whose revocation failed halfway finishes the job.
	n, err := a.revokeUser(ctx, id, "users.delete")
	if err != nil {
		a.fail(c, "users.delete", err)
		return
	}
	if delErr != nil {
		if n > 0 {
			a.audit(c, "users.revoke_families", "user_id", id, "families_revoked", n)
		}
		a.fail(c, "users.delete", delErr)
		return
	}
	a.audit(c, "users.delete", "user_id", id, "families_revoked", n)
	c.Status(http.StatusNoContent)
}

func (a *api) setUserPassword(c *gin.Context) {
	var req struct {
		Password *string `json:"password"`
	}
	if err := decode(c, &req, false); err != nil {
		a.fail(c, "users.set_password", err)
		return
	}
	if req.Password == nil {
		abortField(c, "password", "password: required")
		return
	}
	ctx, id := c.Request.Context(), c.Param("id")
	if err := a.Users.SetPassword(ctx, id, *req.Password); err != nil {
		a.fail(c, "users.set_password", err)
		return
	}
	// A new password signs the user out everywhere: whoever knew the old
	// one may hold a refresh token.
	n, err := a.revokeUser(ctx, id, "users.set_password")
	if err != nil {
		a.fail(c, "users.set_password", err)
		return
	}
	a.audit(c, "users.set_password", "user_id", id, "families_revoked", n)
	c.Status(http.StatusNoContent)
}

// patchUserProfile is PATCH /admin/users/:id/profile, a JSON merge patch
// (RFC 7396) of the profile claims: a claim given is set, a claim given as
// null is removed, the rest stay. address is replaced as a whole.
func (a *api) patchUserProfile(c *gin.Context) {
	var patch map[string]json.RawMessage
	if err := decode(c, &patch, false); err != nil {
		a.fail(c, "users.update_profile", err)
		return
	}
	ctx, id := c.Request.Context(), c.Param("id")
	u, err := a.Users.EditProfile(ctx, id, func(p *users.Profile) error { return mergeProfile(p, patch) })
	if err != nil {
		a.fail(c, "users.update_profile", err)
		return
	}
	// Which claims changed, never their values: a profile is personal data.
	names := make([]string, 0, len(patch))
	for k := range patch {
		names = append(names, k)
	}
	slices.Sort(names)
	a.audit(c, "users.update_profile", "user_id", id, "claims", names)
	c.JSON(http.StatusOK, NewUserView(u))
}

// mergeProfile applies a merge patch to p through its JSON form, so the
// claim names are the JSON ones and an unknown claim is refused.
func mergeProfile(p *users.Profile, patch map[string]json.RawMessage) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &merged); err != nil {
		return err
	}
	for k, v := range patch {
		if string(v) == "null" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	if raw, err = json.Marshal(merged); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var next users.Profile
	if err := dec.Decode(&next); err != nil {
		return bodyErr(err)
	}
	*p = next
	return nil
}

func (a *api) setUserDisabled(disabled bool) gin.HandlerFunc {
	action := "users.enable"
	if disabled {
		action = "users.disable"
	}
	return func(c *gin.Context) {
		ctx, id := c.Request.Context(), c.Param("id")
		if err := a.Users.SetDisabled(ctx, id, disabled); err != nil {
			a.fail(c, action, err)
			return
		}
		var n int
		if disabled {
			var err error
			if n, err = a.revokeUser(ctx, id, action); err != nil {
				a.fail(c, action, err)
				return
			}
		}
		u, err := a.Users.Get(ctx, id)
		if err != nil {
			a.fail(c, action, err)
			return
		}
		a.audit(c, action, "user_id", id, "families_revoked", n)
		c.JSON(http.StatusOK, NewUserView(u))
	}
}

// revokeUser revokes the user (tokens.Revoker: sessions, codes,
// consents, families and their newest access tokens) and returns how many
// families it revoked. reason names the admin action in the audit log.
func (a *api) revokeUser(ctx context.Context, userID, reason string) (int, error) {
	return a.Revoker.RevokeUser(ctx, userID, reason)
}
