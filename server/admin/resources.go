package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/resources"
)

// ResourceView is a protected resource as the admin API shows it.
type ResourceView struct {
	URI    string   `json:"uri"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// AccessTokenTTL is a duration ("10m0s"); empty means the server's.
	AccessTokenTTL string    `json:"access_token_ttl,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// NewResourceView returns the admin view of r.
func NewResourceView(r resources.Resource) ResourceView {
	v := ResourceView{URI: r.ID, Name: r.Name, Scopes: nonNil(r.Scopes), CreatedAt: r.CreatedAt}
	if r.AccessTokenTTL > 0 {
		v.AccessTokenTTL = r.AccessTokenTTL.String()
	}
	return v
}

// ResourceRequest is the body of POST /admin/resources.
type ResourceRequest struct {
	URI    string   `json:"uri"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// AccessTokenTTL is a duration such as "10m"; empty means the server's.
	AccessTokenTTL string `json:"access_token_ttl,omitempty"`
}

// The identifier is a URI, slashes and all, so the routes name it in the
// uri query parameter rather than as a path segment.
func (a *api) resourceRoutes(g *gin.RouterGroup) {
	g.POST("/resources", a.createResource)
	g.GET("/resources", a.listResources)
	g.DELETE("/resources", a.deleteResource)
}

func (a *api) createResource(c *gin.Context) {
	var req ResourceRequest
	if err := decode(c, &req, false); err != nil {
		a.failResource(c, "resources.create", err)
		return
	}
	r := resources.Resource{ID: req.URI, Name: req.Name, Scopes: req.Scopes}
	if req.AccessTokenTTL != "" {
		d, err := time.ParseDuration(req.AccessTokenTTL)
		if err != nil {
			abortField(c, "access_token_ttl", `access_token_ttl: want a duration such as "10m"`)
			return
		}
		r.AccessTokenTTL = d
	}
	r, err := a.Resources.Create(c.Request.Context(), r)
	if err != nil {
		a.failResource(c, "resources.create", err)
		return
	}
	a.audit(c, "resources.create", "resource", r.ID, "scopes", r.Scopes)
	c.JSON(http.StatusCreated, NewResourceView(r))
}

// listResources lists them all; ?uri= lists only that one (or none).
func (a *api) listResources(c *gin.Context) {
	ctx := c.Request.Context()
	var list []resources.Resource
	if uri, ok := c.GetQuery("uri"); ok {
		r, err := a.Resources.Get(ctx, uri)
		switch {
		case err == nil:
			list = append(list, r)
		case !errors.Is(err, resources.ErrNotFound):
			a.failResource(c, "resources.list", err)
			return
		}
	} else {
		var err error
		if list, err = a.Resources.List(ctx); err != nil {
			a.failResource(c, "resources.list", err)
			return
		}
	}
	views := make([]ResourceView, 0, len(list))
	for _, r := range list {
		views = append(views, NewResourceView(r))
	}
	c.JSON(http.StatusOK, gin.H{"resources": views})
}

// deleteResource removes ?uri=. Tokens already minted for it run out on
// their own; none is minted after.
func (a *api) deleteResource(c *gin.Context) {
	uri := c.Query("uri")
	if uri == "" {
		abortField(c, "uri", "uri: the resource's identifier is required as a query parameter")
		return
	}
	if err := a.Resources.Delete(c.Request.Context(), uri); err != nil {
		a.failResource(c, "resources.delete", err)
		return
	}
	a.audit(c, "resources.delete", "resource", uri)
	c.Status(http.StatusNoContent)
}

// failResource renders the registry's own errors, and leaves the rest to
// fail.
func (a *api) failResource(c *gin.Context, action string, err error) {
	var ve *resources.ValidationError
	switch {
	case errors.As(err, &ve):
		abortField(c, fieldName(ve.Field), fieldName(ve.Field)+": "+ve.Reason)
	case errors.Is(err, resources.ErrNotFound):
		abort(c, http.StatusNotFound, "not_found", "resource not found")
	case errors.Is(err, resources.ErrExists):
		abort(c, http.StatusConflict, "conflict", "a resource with this uri already exists")
	default:
		a.fail(c, action, err)
	}
}

// fieldName is the request field a registry field is sent as.
func fieldName(f string) string {
	if f == "id" {
		return "uri"
	}
	return f
}
