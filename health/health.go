// Package health answers the probes of load balancers and orchestrators:
// GET /healthz (the process is up) and GET /readyz (it can serve now: every
// check passes within a bound, and it is not shutting down).
package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Check is one readiness condition. Run must honour ctx's deadline.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Checker serves the probes for one node.
type Checker struct {
	checks   []Check
	timeout  time.Duration
	log      *slog.Logger
	draining atomic.Bool
}

// New returns a Checker that runs checks, each bounded by timeout.
func New(timeout time.Duration, log *slog.Logger, checks ...Check) *Checker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Checker{checks: checks, timeout: timeout, log: log}
}

// Drain makes /readyz answer 503 from now on, so load balancers stop
// sending before the listeners close. /healthz stays 200.
func (h *Checker) Drain() { h.draining.Store(true) }

// Report is the /readyz body. Checks holds "ok" or a fixed word per check:
// never an error's text, which could name addresses or worse.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// Ready runs every check in parallel and reports whether all passed. It
// answers within the timeout even if a check ignores its context: a check
// still running then counts as timed out.
func (h *Checker) Ready(ctx context.Context) (Report, bool) {
	if h.draining.Load() {
		return Report{Status: "shutting_down"}, false
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(h.checks)) // buffered: a late check never blocks
	for i, c := range h.checks {
		go func() { results <- result{i, c.Run(ctx)} }()
	}
	errs := make([]error, len(h.checks))
	for i := range errs {
		errs[i] = context.DeadlineExceeded
	}
collect:
	for range h.checks {
		select {
		case r := <-results:
			errs[r.i] = r.err
		case <-ctx.Done():
			break collect
		}
	}
	rep := Report{Status: "ready", Checks: map[string]string{}}
	ok := true
	for i, c := range h.checks {
		switch err := errs[i]; {
		case err == nil:
			rep.Checks[c.Name] = "ok"
			continue
		case errors.Is(err, context.DeadlineExceeded):
			rep.Checks[c.Name] = "timeout"
		default:
			rep.Checks[c.Name] = "failed"
		}
		ok = false
		h.log.WarnContext(ctx, "readiness check failed", "check", c.Name, "err", errs[i])
	}
	if !ok {
		rep.Status = "unavailable"
	}
	return rep, ok
}

// Wrap serves GET and HEAD /healthz and /readyz ahead of next, without
// next's authentication: probes carry no credentials, and the answers tell
// nothing secret.
func (h *Checker) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/healthz":
			write(w, http.StatusOK, Report{Status: "ok"})
		case "/readyz":
			rep, ok := h.Ready(r.Context())
			status := http.StatusOK
			if !ok {
				status = http.StatusServiceUnavailable
			}
			write(w, status, rep)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func write(w http.ResponseWriter, status int, rep Report) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep)
}
