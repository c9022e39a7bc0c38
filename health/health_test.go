package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func probe(t *testing.T, h http.Handler, path string) (int, Report, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var rep Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("%s: %v: %q", path, err, rec.Body.String())
	}
	return rec.Code, rep, rec.Body.String()
}

// TestReadiness: a check that hangs is cut at the timeout and reported as
// such, a failing one as failed without its error text; draining is 503
// whatever the checks say; /healthz is 200 throughout; other paths go on.
func TestReadiness(t *testing.T) {
	var fail, hang atomic.Bool // read by check goroutines Ready may leave running
	h := New(100*time.Millisecond, nil,
		Check{Name: "store", Run: func(ctx context.Context) error {
			if hang.Load() {
				// Ignores ctx, as a stuck client might: Ready must not wait.
				time.Sleep(3 * time.Second)
			}
			return nil
		}},
		Check{Name: "keys", Run: func(context.Context) error {
			if fail.Load() {
				return errors.New("secret-looking detail")
			}
			return nil
		}},
	)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := h.Wrap(next)

	if code, rep, _ := probe(t, srv, "/readyz"); code != http.StatusOK || rep.Status != "ready" || rep.Checks["store"] != "ok" {
		t.Fatalf("all well: %d %+v", code, rep)
	}
	hang.Store(true)
	fail.Store(true)
	start := time.Now()
	code, rep, raw := probe(t, srv, "/readyz")
	if took := time.Since(start); took > time.Second {
		t.Errorf("a hanging check held /readyz for %v", took)
	}
	if code != http.StatusServiceUnavailable || rep.Checks["store"] != "timeout" || rep.Checks["keys"] != "failed" || strings.Contains(raw, "secret") {
		t.Fatalf("failing checks: %d %s", code, raw)
	}
	if code, _, _ := probe(t, srv, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with failing checks: %d", code)
	}
	hang.Store(false)
	fail.Store(false)
	h.Drain()
	if code, rep, _ := probe(t, srv, "/readyz"); code != http.StatusServiceUnavailable || rep.Status != "shutting_down" {
		t.Errorf("draining: %d %+v", code, rep)
	}
	if code, _, _ := probe(t, srv, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining: %d", code)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/token", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("other paths must reach the wrapped handler: %d", rec.Code)
	}
}
