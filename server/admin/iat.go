package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/registration"
)

// TokenIssuer creates initial access tokens for dynamic client
// registration; errors of type *registration.ParamError are the request's
// fault.
type TokenIssuer interface {
	IssueInitialAccessToken(ctx context.Context, ttl time.Duration, uses int64) (string, registration.InitialAccessToken, error)
}

// InitialAccessTokenRequest is the optional body of POST
// /admin/initial-access-tokens; zero values take the defaults (24h, 1 use).
type InitialAccessTokenRequest struct {
	TTL  string `json:"ttl"`
	Uses int64  `json:"uses"`
}

// InitialAccessTokenView is the answer: the one time the token is shown.
type InitialAccessTokenView struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Uses      int64     `json:"uses"`
}

func (a *api) createInitialAccessToken(c *gin.Context) {
	const action = "initial_access_tokens.create"
	var req InitialAccessTokenRequest
	if err := decode(c, &req, true); err != nil {
		a.fail(c, action, err)
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			abortField(c, "ttl", "ttl: not a duration such as 24h or 90m")
			return
		}
		if d <= 0 {
			abortField(c, "ttl", "ttl: must be positive")
			return
		}
		ttl = d
	}
	if req.Uses < 0 {
		abortField(c, "uses", "uses: must be positive")
		return
	}
	token, t, err := a.InitialAccessTokens.IssueInitialAccessToken(c.Request.Context(), ttl, req.Uses)
	var pe *registration.ParamError
	if errors.As(err, &pe) {
		abortField(c, pe.Field, pe.Error())
		return
	}
	if err != nil {
		a.fail(c, action, err)
		return
	}
	// The token itself is never logged.
	a.audit(c, action, "expires_at", t.ExpiresAt, "uses", t.UsesLeft)
	c.JSON(http.StatusCreated, InitialAccessTokenView{Token: token, ExpiresAt: t.ExpiresAt, Uses: t.UsesLeft})
}
