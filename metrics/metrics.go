// Package metrics is the node's Prometheus instrumentation: one registry
// per App (tests run many nodes in one process), served on the admin
// listener. Every label has a bounded set of values: a route pattern,
// never a raw path; a grant type, limit name or reason from a fixed list;
// never a client or user id.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"authserver/audit"
)

// Metrics holds one node's registry and collectors.
type Metrics struct {
	Registry *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	issued        *prometheus.CounterVec
	rotations     prometheus.Counter
	events        *prometheus.CounterVec
	lockouts      *prometheus.CounterVec
	authFailures  prometheus.Counter
	reuse         prometheus.Counter
	familiesGone  *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	storeOutages  *prometheus.CounterVec
}

// New registers the collectors on a fresh registry. version and goVersion
// label authserver_build_info.
func New(version, goVersion string) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_http_requests_total",
			Help: "HTTP requests answered, by listener, matched route pattern (\"unmatched\" for none) and status code.",
		}, []string{"listener", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authserver_http_request_duration_seconds",
			Help:    "HTTP request latency by listener and matched route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"listener", "route"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_tokens_issued_total",
			Help: "Successful token responses at /token, by grant type.",
		}, []string{"grant_type"}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_refresh_rotations_total",
			Help: "Refresh tokens rotated (successful refresh_token grants).",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_audit_events_total",
			Help: "Security events written to the audit log, by event name.",
		}, []string{"event"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_lockouts_total",
			Help: "Requests refused because a failure limit was reached, by limit name.",
		}, []string{"limit"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_client_auth_failures_total",
			Help: "Failed client authentications at /token, /revoke and /introspect.",
		}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_refresh_reuse_detected_total",
			Help: "Rotated refresh tokens presented again (each revokes its family).",
		}),
		familiesGone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_families_revoked_total",
			Help: "Refresh-token families revoked, by reason.",
		}, []string{"reason"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authserver_store_operation_duration_seconds",
			Help:    "Store call latency by backend and operation (Redis command name, or \"pipeline\").",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"backend", "op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_store_errors_total",
			Help: "Store calls that failed (a missing key is not a failure), by backend and operation.",
		}, []string{"backend", "op"}),
		storeOutages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_store_unavailable_total",
			Help: "Store calls that failed because the store was unavailable (store.ErrUnavailable).",
		}, []string{"backend"}),
	}
	r.MustRegister(m.requests, m.duration, m.issued, m.rotations, m.events, m.lockouts, m.authFailures,
		m.reuse, m.familiesGone, m.storeDuration, m.storeErrors, m.storeOutages,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "authserver_build_info",
			Help:        "Always 1; labelled with the build's version and Go version.",
			ConstLabels: prometheus.Labels{"version": version, "go_version": goVersion},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every known label value starts at 0, so rate() and alerts see the
	// first event rather than a series appearing from nothing.
	for _, g := range grantTypes {
		m.issued.WithLabelValues(g)
	}
	for _, e := range knownEvents {
		m.events.WithLabelValues(e)
	}
	for _, l := range knownLimits {
		m.lockouts.WithLabelValues(l)
	}
	for _, r := range knownReasons {
		m.familiesGone.WithLabelValues(r)
	}
	return m
}

// SigningKeyAge registers authserver_signing_key_age_seconds, read from
// created (the current signing key's creation time) at every scrape.
func (m *Metrics) SigningKeyAge(created func() time.Time) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "authserver_signing_key_age_seconds",
		Help: "Seconds since the current signing key was created.",
	}, func() float64 {
		t := created()
		if t.IsZero() {
			return 0
		}
		return time.Since(t).Seconds()
	}))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Gin returns middleware counting and timing requests on listener. It
// labels by c.FullPath(), the pattern that matched, so unknown paths all
// fall under "unmatched" and cannot grow the series.
func (m *Metrics) Gin(listener string) gin.HandlerFunc {
	return func(c *gin.Context) {
		began := time.Now()
		c.Next()
		route := audit.RoutePattern(c)
		m.requests.WithLabelValues(listener, route, codeLabel(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(listener, route).Observe(time.Since(began).Seconds())
	}
}

// codeLabel is strconv.Itoa without an allocation for the usual codes.
func codeLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusCreated:
		return "201"
	case http.StatusNoContent:
		return "204"
	case http.StatusFound:
		return "302"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusNotFound:
		return "404"
	case http.StatusTooManyRequests:
		return "429"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return strconv.Itoa(code)
}

// grantTypes bounds authserver_tokens_issued_total's label.
var grantTypes = []string{"authorization_code", "client_credentials", "password", "refresh_token"}

// TokenIssued counts one successful token response of grantType.
func (m *Metrics) TokenIssued(grantType string) {
	if !slices.Contains(grantTypes, grantType) {
		grantType = "other"
	}
	m.issued.WithLabelValues(grantType).Inc()
	if grantType == "refresh_token" {
		m.rotations.Inc()
	}
}

// Events, limits and reasons the audit log writes; anything else is
// counted as "other", so a new name cannot add unbounded series.
var (
	knownEvents = []string{"admin_action", "admin_auth_failed", "client_auth_failed", "client_registered", "lockout",
		"refresh_reuse_detected", "refresh_retried", "refresh_recovered", "refresh_forged", "refresh_client_mismatch", "family_revoked", "access_token_revoked",
		"code_replayed", "code_client_mismatch", "sign_in_failed", "csrf_rejected"}
	knownLimits = []string{"client_auth", "password_checks_in_flight_per_ip", "password_per_device",
		"password_per_user_ip", "password_per_client", "sign_in_per_ip", "password_per_user"}
	knownReasons = []string{"revoked_by_client", "refresh_reuse_detected", "code_replayed", "user_revoked", "client_revoked"}
)

func bounded(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return "other"
}

// AuditHandler wraps h so that every audit record (msg "audit", see package
// audit) also moves the counters: the audit log already names each security
// event once, so counting it here needs no second call at every site.
func (m *Metrics) AuditHandler(h slog.Handler) slog.Handler { return &auditHandler{h: h, m: m} }

type auditHandler struct {
	h slog.Handler
	m *Metrics
}

// Enabled is true at Info and up even when h drops them: audit events are
// Info or Warn and must be counted whatever the log level.
func (a *auditHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || a.h.Enabled(ctx, l)
}

func (a *auditHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "audit" {
		a.m.count(r)
	}
	if !a.h.Enabled(ctx, r.Level) {
		return nil
	}
	return a.h.Handle(ctx, r)
}

func (a *auditHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &auditHandler{h: a.h.WithAttrs(as), m: a.m}
}

func (a *auditHandler) WithGroup(name string) slog.Handler {
	return &auditHandler{h: a.h.WithGroup(name), m: a.m}
}

func (m *Metrics) count(r slog.Record) {
	var event, limit, reason string
	r.Attrs(func(at slog.Attr) bool {
		switch at.Key {
		case "event":
			event = at.Value.String()
		case "limit":
			limit = at.Value.String()
		case "reason":
			reason = at.Value.String()
		}
		return true
	})
	if event == "" {
		return
	}
	m.events.WithLabelValues(bounded(event, knownEvents)).Inc()
	switch event {
	case "lockout":
		m.lockouts.WithLabelValues(bounded(limit, knownLimits)).Inc()
	case "client_auth_failed":
		m.authFailures.Inc()
	case "refresh_reuse_detected":
		m.reuse.Inc()
	case "family_revoked":
		m.familiesGone.WithLabelValues(bounded(reason, knownReasons)).Inc()
	}
}
