package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/grants"
	"authserver/ratelimit"
	"authserver/registration"
	"authserver/store"
)

// maxClientIDLen bounds the client ID in a management URL; generated IDs
// are 32 characters, so anything longer names no client.
const maxClientIDLen = 256

// Registration serves dynamic client registration: POST /register (RFC
// 7591) and GET, PUT and DELETE /register/:client_id (RFC 7592), each
// guarded by a bearer token: an initial access token to register (unless
// registration is open), the client's registration access token to manage.
type Registration struct {
	svc     *registration.Service
	maxBody int64
	log     *slog.Logger
}

// NewRegistration returns the registration endpoints over svc; maxBody caps
// request bodies.
func NewRegistration(svc *registration.Service, maxBody int64, log *slog.Logger) *Registration {
	if log == nil {
		log = slog.Default()
	}
	return &Registration{svc: svc, maxBody: maxBody, log: log}
}

func (h *Registration) routes(r gin.IRouter) {
	r.POST("/register", h.register)
	r.GET("/register/:client_id", h.read)
	r.PUT("/register/:client_id", h.update)
	r.DELETE("/register/:client_id", h.delete)
}

func (h *Registration) register(c *gin.Context) {
	token := bearerToken(c.Request)
	// The token first: without a valid one the answer is 401 whatever the
	// body holds.
	if err := h.svc.CheckInitialAccessToken(c.Request.Context(), token); err != nil {
		h.fail(c, err, token)
		return
	}
	var md registration.Metadata
	if err := h.decode(c, &md); err != nil {
		h.fail(c, err, token)
		return
	}
	info, err := h.svc.RegisterFrom(c.Request.Context(), ratelimit.ClientIP(c.Request.RemoteAddr), token, md)
	if err != nil {
		h.fail(c, err, token)
		return
	}
	h.answer(c, http.StatusCreated, info)
}

func (h *Registration) read(c *gin.Context) {
	token := bearerToken(c.Request)
	info, err := h.svc.Read(c.Request.Context(), h.clientID(c), token)
	if err != nil {
		h.fail(c, err, token)
		return
	}
	h.answer(c, http.StatusOK, info)
}

func (h *Registration) update(c *gin.Context) {
	token := bearerToken(c.Request)
	id := h.clientID(c)
	// Authenticate before reading the body, so a caller without the
	// client's token learns nothing from how its body is judged.
	if err := h.svc.CheckRegistrationAccessToken(c.Request.Context(), id, token); err != nil {
		h.fail(c, err, token)
		return
	}
	var req registration.UpdateRequest
	if err := h.decode(c, &req); err != nil {
		h.fail(c, err, token)
		return
	}
	info, err := h.svc.Update(c.Request.Context(), id, token, req)
	if err != nil {
		h.fail(c, err, token)
		return
	}
	h.answer(c, http.StatusOK, info)
}

func (h *Registration) delete(c *gin.Context) {
	token := bearerToken(c.Request)
	if err := h.svc.Delete(c.Request.Context(), h.clientID(c), token); err != nil {
		h.fail(c, err, token)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
}

// clientID is the path's client ID, or "" (which names no client) when it
// is longer than any ID the server issues.
func (h *Registration) clientID(c *gin.Context) string {
	id := c.Param("client_id")
	if len(id) > maxClientIDLen {
		return ""
	}
	return id
}

// answer sends client information: it may hold secrets, so nothing may
// cache it (RFC 7591 §3.2.1).
func (h *Registration) answer(c *gin.Context, status int, info *registration.Information) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(status, info)
}

// bearerToken is the token of an "Authorization: Bearer" header (RFC 6750
// §2.1), or "" when there is none.
func bearerToken(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// bodyError is a request body that is not one JSON object.
type bodyError struct {
	status int
	desc   string
}

func (e *bodyError) Error() string { return e.desc }

// decode reads the body as exactly one JSON object into dst. Unknown
// members are ignored, as RFC 7591 §2 requires of unknown metadata.
func (h *Registration) decode(c *gin.Context, dst any) error {
	tooBig := &bodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", h.maxBody)}
	if c.Request.ContentLength > h.maxBody {
		return tooBig
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, h.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooBig
	}
	if err != nil {
		return &bodyError{http.StatusBadRequest, "could not read the request body"}
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return &bodyError{http.StatusBadRequest, "the request body must be a JSON object of client metadata"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var (
			syntax  *json.SyntaxError
			typeErr *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syntax):
			return &bodyError{http.StatusBadRequest, fmt.Sprintf("malformed JSON at offset %d", syntax.Offset)}
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return &bodyError{http.StatusBadRequest, fmt.Sprintf("%s: expected %s, got %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)}
		default:
			return &bodyError{http.StatusBadRequest, "malformed JSON request body"}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &bodyError{http.StatusBadRequest, "the request body must hold a single JSON object"}
	}
	return nil
}

// jsonKind names, in JSON's terms, what a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a number"
}

// fail renders err: a bad or missing token as 401 (RFC 6750 §3), refused
// metadata as 400 (RFC 7591 §3.2.2), a store outage as 503 with
// Retry-After, anything else as a logged 500.
func (h *Registration) fail(c *gin.Context, err error, token string) {
	var (
		ue *registration.UnauthorizedError
		re *registration.Error
		be *bodyError
		le *registration.LimitedError
	)
	switch {
	case errors.As(err, &ue):
		// RFC 6750 §3.1: no error code when no token was sent at all.
		if token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="authserver"`)
		} else {
			c.Header("WWW-Authenticate", `Bearer realm="authserver", error="invalid_token"`)
		}
		abortJSON(c, http.StatusUnauthorized, "invalid_token", grants.ErrorDescription(ue.Description))
	case errors.As(err, &re):
		abortJSON(c, http.StatusBadRequest, re.Code, grants.ErrorDescription(re.Description))
	case errors.As(err, &le):
		c.Header("Retry-After", strconv.FormatInt(le.RetryAfter, 10))
		abortJSON(c, http.StatusTooManyRequests, "temporarily_unavailable", grants.ErrorDescription(le.Error()))
	case errors.As(err, &be):
		abortJSON(c, be.status, registration.CodeInvalidClientMetadata, grants.ErrorDescription(be.desc))
	case errors.Is(err, context.Canceled):
		c.Abort() // the caller went away
	case store.IsUnavailable(err):
		h.log.WarnContext(c.Request.Context(), "registration: store unavailable", "path", c.FullPath(), "err", err)
		c.Header("Retry-After", strconv.Itoa(int(store.RetryAfter/time.Second)))
		abortJSON(c, http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable; retry after the time in Retry-After")
	default:
		h.log.ErrorContext(c.Request.Context(), "registration request failed", "path", c.FullPath(), "err", err)
		abortJSON(c, http.StatusInternalServerError, "server_error", "internal error")
	}
}
