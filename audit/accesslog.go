package audit

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// AccessLog is middleware that logs one "access" record per request:
// listener, method, route, status, duration and request id. The route is
// the matched pattern (/admin/clients/:id), never the raw path, so the
// log's cardinality stays bounded and no ID, query string or pasted secret
// in a URL reaches it; headers and bodies are never read. Put it first, so
// it also sees the 500 a recovered panic answers with.
func AccessLog(log *slog.Logger, listener string) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := RoutePattern(c)
		// The id the RequestID middleware answered with; the request the
		// handlers saw carries it in its context too.
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "access",
			slog.String("listener", listener),
			slog.String("method", method(c.Request.Method)),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", c.Writer.Header().Get(RequestIDHeader)),
		)
	}
}

// method bounds the methods logged to the standard ones: any token is a
// valid method to net/http, and a client could fill the log with new ones.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// RoutePattern is the route pattern that matched the request
// (/admin/clients/:id), or "unmatched": the one way requests are named in
// logs and metrics, so neither carries a raw path or grows with unknown ones.
func RoutePattern(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "unmatched"
}
