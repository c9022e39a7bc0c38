// Package admin is the admin API: client, user and signing-key management
// over JSON, on its own engine for the admin listener (loopback by default),
// guarded by one bearer token.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/audit"
	"authserver/clients"
	"authserver/keys"
	"authserver/resources"
	"authserver/store"
	"authserver/tokens"
	"authserver/users"
)

// MaxBodyBytes caps every request body: admin requests are small, and an
// unbounded body would let one request hold the listener's memory.
const MaxBodyBytes = 64 << 10

// maxIDLen bounds path IDs before they reach the store; generated IDs are
// far shorter, so anything longer cannot exist.
const maxIDLen = 256

// Options are the admin API's parts. Token, Clients, Users, Families,
// Revoker and Keys are required; the rest are optional.
type Options struct {
	// Token is the bearer token every request must present. Empty rejects
	// every request rather than letting anyone in.
	Token    string
	Clients  *clients.Registry
	Users    *users.Service
	Families tokens.RefreshStore
	Keys     KeyManager
	// InitialAccessTokens issues RFC 7591 initial access tokens
	// (*registration.Service); nil leaves its route out.
	InitialAccessTokens TokenIssuer
	// Audit receives one record per admin action; nil discards them.
	Audit *slog.Logger
	// Revoker ends what a user or client held: sign out everywhere, user
	// delete, disable and new password; client disable and delete.
	Revoker *tokens.Revoker
	// AccessLog receives one record per request (audit.AccessLog); nil
	// logs none.
	AccessLog *slog.Logger
	// Metrics counts and times every request (metrics.Gin); nil measures
	// nothing.
	Metrics gin.HandlerFunc
	// MetricsHandler serves GET /metrics without the bearer token, since
	// scrapers rarely carry one; nil leaves the route out.
	MetricsHandler http.Handler
	// Backup streams a copy of the embedded store for GET /admin/backup;
	// nil (a Redis store) makes the route say how Redis is backed up.
	Backup Backuper
	// Resources are the RFC 8707 protected resources; nil leaves their
	// routes out.
	Resources *resources.Registry
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Field names the offending request field of a validation error.
	Field string `json:"field,omitempty"`
}

type api struct {
	Options
	events *audit.Logger
}

// New returns the admin API handler. Routes:
//
//	POST   /admin/clients               create (201, secret shown once)
//	GET    /admin/clients               list
//	GET    /admin/clients/:id           get
//	DELETE /admin/clients/:id           delete (204)
//	POST   /admin/clients/:id/secret    rotate the secret, {"overlap":"1h"} optional
//	POST   /admin/clients/:id/disable   disable
//	POST   /admin/clients/:id/enable    enable
//	POST   /admin/users                 create (201)
//	GET    /admin/users                 list; ?username=alice lists only that user (or none)
//	GET    /admin/users/:id             get
//	DELETE /admin/users/:id             delete and sign out everywhere (204)
//	PUT    /admin/users/:id/password    set password and sign out everywhere (204)
//	PATCH  /admin/users/:id/profile     change profile claims (merge patch: null removes)
//	POST   /admin/users/:id/disable     disable and sign out everywhere
//	POST   /admin/users/:id/enable      enable
//	GET    /admin/users/:id/families    list live refresh-token families (signed-in devices)
//	DELETE /admin/users/:id/families    sign out everywhere: revoke them all
//	GET    /admin/keys                  list signing keys: kid, alg, state, created_at, signs_from, retires_at
//	POST   /admin/keys/rotate           add a signing key that signs after signing.publish_ahead; {"now":true} signs at once
//	POST   /admin/keys/:id/retire       retire a key that no longer signs (409 for the signing key)
//	GET    /admin/backup                a consistent copy of the embedded store file (501 on Redis)
//	POST   /admin/initial-access-tokens create an RFC 7591 initial access token (201, shown once), {"ttl":"24h","uses":1} optional
//	POST   /admin/resources             register a protected resource (201): {"uri","name","scopes","access_token_ttl"}
//	GET    /admin/resources             list; ?uri=https://api.example/ lists only that one (or none)
//	DELETE /admin/resources?uri=...     delete (204)
func New(o Options) http.Handler {
	if o.Audit == nil {
		o.Audit = slog.New(slog.DiscardHandler)
	}
	a := &api{Options: o, events: audit.New(o.Audit)}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Gin answers trailing-slash redirects before any middleware runs; off,
	// every outcome passes authentication first, so an unauthenticated
	// caller cannot map which routes exist.
	r.RedirectTrailingSlash = false
	if o.AccessLog != nil {
		r.Use(audit.AccessLog(o.AccessLog, "admin"))
	}
	if o.Metrics != nil {
		r.Use(o.Metrics)
	}
	r.Use(audit.RequestID(), a.recoverJSON)
	if o.MetricsHandler != nil {
		// Registered before authenticate is added, so it alone skips it.
		r.GET("/metrics", gin.WrapH(o.MetricsHandler))
	}
	r.Use(a.authenticate)
	r.NoRoute(func(c *gin.Context) { abort(c, http.StatusNotFound, "not_found", "no such endpoint") })
	r.NoMethod(func(c *gin.Context) { abort(c, http.StatusMethodNotAllowed, "invalid_request", "method not allowed") })

	g := r.Group("/admin")
	g.POST("/clients", a.createClient)
	g.GET("/clients", a.listClients)
	g.GET("/clients/:id", a.withID, a.getClient)
	g.DELETE("/clients/:id", a.withID, a.deleteClient)
	g.POST("/clients/:id/secret", a.withID, a.rotateClientSecret)
	g.POST("/clients/:id/disable", a.withID, a.setClientDisabled(true))
	g.POST("/clients/:id/enable", a.withID, a.setClientDisabled(false))

	g.POST("/users", a.createUser)
	g.GET("/users", a.listUsers)
	g.GET("/users/:id", a.withID, a.getUser)
	g.DELETE("/users/:id", a.withID, a.deleteUser)
	g.PUT("/users/:id/password", a.withID, a.setUserPassword)
	g.PATCH("/users/:id/profile", a.withID, a.patchUserProfile)
	g.POST("/users/:id/disable", a.withID, a.setUserDisabled(true))
	g.POST("/users/:id/enable", a.withID, a.setUserDisabled(false))
	g.GET("/users/:id/families", a.withID, a.listFamilies)
	g.DELETE("/users/:id/families", a.withID, a.signOut)

	g.GET("/keys", a.listKeys)
	g.POST("/keys/rotate", a.rotateKeys)
	g.POST("/keys/:id/retire", a.withID, a.retireKey)
	g.GET("/backup", a.backup)
	if o.InitialAccessTokens != nil {
		g.POST("/initial-access-tokens", a.createInitialAccessToken)
	}
	if o.Resources != nil {
		a.resourceRoutes(g)
	}
	return r
}

// authenticate checks the bearer token. Both sides are hashed first so the
// comparison takes the same time whatever the presented token's length.
func (a *api) authenticate(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	scheme, presented, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	presented = strings.TrimSpace(presented)
	want := sha256.Sum256([]byte(a.Token))
	got := sha256.Sum256([]byte(presented))
	ok := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	if !strings.EqualFold(scheme, "Bearer") || presented == "" || a.Token == "" || !ok {
		a.events.Warn(c.Request.Context(), audit.AdminAuthFailed, "remote", c.Request.RemoteAddr, "method", c.Request.Method, "path", c.Request.URL.Path)
		c.Header("WWW-Authenticate", `Bearer realm="authserver-admin"`)
		abort(c, http.StatusUnauthorized, "unauthorized", "a valid admin bearer token is required")
		return
	}
	c.Next()
}

// recoverJSON turns a panic into a logged 500 with a JSON body.
func (a *api) recoverJSON(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.Audit.ErrorContext(c.Request.Context(), "admin: panic serving request", "method", c.Request.Method, "path", c.FullPath(), "panic", fmt.Sprint(p))
			abort(c, http.StatusInternalServerError, "server_error", "internal error")
		}
	}()
	c.Next()
}

// withID rejects path IDs that no stored record can have, so odd input
// never reaches a backend's key-size limits as a 500.
func (a *api) withID(c *gin.Context) {
	id := c.Param("id")
	if id == "" || len(id) > maxIDLen || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		abort(c, http.StatusNotFound, "not_found", "no such record")
		return
	}
	c.Next()
}

// audit records one successful admin action. Callers pass ids only, never
// a secret or password.
func (a *api) audit(c *gin.Context, action string, attrs ...any) {
	// RemoteAddr, not gin's ClientIP: only ratelimit.Proxies (which set it)
	// knows which forwarding headers to believe.
	attrs = append([]any{"action", action, "remote", c.Request.RemoteAddr}, attrs...)
	a.events.Info(c.Request.Context(), audit.AdminAction, attrs...)
}

// bodyError is a request body that could not be read as the expected JSON.
type bodyError struct {
	status int
	desc   string
}

func (e *bodyError) Error() string { return e.desc }

// decode reads the body as exactly one JSON value into dst, rejecting
// unknown fields and trailing data. With optional, an empty body leaves dst
// as it is.
func decode(c *gin.Context, dst any, optional bool) error {
	if c.Request.ContentLength > MaxBodyBytes {
		return &bodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) && optional {
			return nil
		}
		return bodyErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyErr(err)
		}
		return &bodyError{http.StatusBadRequest, "request body must hold a single JSON object"}
	}
	return nil
}

func bodyErr(err error) error {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &bodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return &bodyError{http.StatusBadRequest, "a JSON request body is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &bodyError{http.StatusBadRequest, "malformed JSON: unexpected end of body"}
	case errors.As(err, &syntax):
		return &bodyError{http.StatusBadRequest, fmt.Sprintf("malformed JSON at offset %d: %v", syntax.Offset, err)}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &bodyError{http.StatusBadRequest, fmt.Sprintf("request body must be a JSON object, not %s", typeErr.Value)}
		}
		return &bodyError{http.StatusBadRequest, fmt.Sprintf("field %q: expected %s, got %s", field, typeErr.Type, typeErr.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return &bodyError{http.StatusBadRequest, strings.TrimPrefix(err.Error(), "json: ")}
	default:
		return &bodyError{http.StatusBadRequest, "malformed JSON request body"}
	}
}

// fail renders err: bad input as 4xx naming what was wrong, a store outage
// as 503 with Retry-After, anything else as a logged 500 without details.
func (a *api) fail(c *gin.Context, action string, err error) {
	var (
		be  *bodyError
		cve *clients.ValidationError
		uve *users.ValidationError
	)
	switch {
	case errors.As(err, &be):
		abort(c, be.status, errorCode(be.status), be.desc)
	case errors.As(err, &cve):
		abortField(c, cve.Field, cve.Field+": "+cve.Reason)
	case errors.As(err, &uve):
		abortField(c, uve.Field, uve.Field+": "+uve.Reason)
	case errors.Is(err, clients.ErrNotFound):
		abort(c, http.StatusNotFound, "not_found", "client not found")
	case errors.Is(err, users.ErrNotFound):
		abort(c, http.StatusNotFound, "not_found", "user not found")
	case errors.Is(err, users.ErrExists):
		abort(c, http.StatusConflict, "conflict", "username already taken")
	case errors.Is(err, clients.ErrExists):
		abort(c, http.StatusConflict, "conflict", "client already exists")
	case errors.Is(err, keys.ErrKeyNotFound):
		abort(c, http.StatusNotFound, "not_found", "signing key not found")
	case errors.Is(err, keys.ErrRetireSigning), errors.Is(err, keys.ErrRetirePending):
		abort(c, http.StatusConflict, "conflict", strings.TrimPrefix(err.Error(), "keys: "))
	case errors.Is(err, context.Canceled):
		// The caller went away; nobody reads the answer.
		c.Abort()
	case store.IsUnavailable(err):
		a.Audit.WarnContext(c.Request.Context(), "admin action failed: store unavailable", "action", action, "error", err)
		c.Header("Retry-After", strconv.Itoa(int(store.RetryAfter/time.Second)))
		abort(c, http.StatusServiceUnavailable, "temporarily_unavailable", "the store is unavailable; retry after the time in Retry-After")
	default:
		a.Audit.ErrorContext(c.Request.Context(), "admin action failed", "action", action, "error", err)
		abort(c, http.StatusInternalServerError, "server_error", "internal error")
	}
}

func errorCode(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return "request_too_large"
	}
	return "invalid_request"
}

func abort(c *gin.Context, status int, code, desc string) {
	c.AbortWithStatusJSON(status, ErrorResponse{Error: code, Description: desc})
}

func abortField(c *gin.Context, field, desc string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, ErrorResponse{Error: "invalid_request", Description: desc, Field: field})
}

// nonNil keeps list fields as [] rather than null in the JSON views.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
