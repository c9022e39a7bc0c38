package metrics

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"authserver/store"
)

// TestEmbeddedObserver: only an outage counts as a store error; every
// transaction is timed.
func TestEmbeddedObserver(t *testing.T) {
	m := New("v", "go")
	obs := m.EmbeddedObserver()
	obs("view", time.Now(), nil)
	obs("view", time.Now(), errors.New("not found")) // a domain answer
	obs("update", time.Now(), store.Unavailable(errors.New("closed")))
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("embedded", "view")); got != 0 {
		t.Errorf("view errors %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("embedded", "update")); got != 1 {
		t.Errorf("update errors %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.storeOutages.WithLabelValues("embedded")); got != 1 {
		t.Errorf("outages %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.storeDuration); got != 2 {
		t.Errorf("%d duration series, want 2 (view, update)", got)
	}
}

// TestAuditHandlerBounded: names the audit log does not define are counted
// as "other", and audit events are counted even when the log drops them.
func TestAuditHandlerBounded(t *testing.T) {
	m := New("v", "go")
	quiet := slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError})
	log := slog.New(m.AuditHandler(quiet))
	ctx := context.Background()
	log.WarnContext(ctx, "audit", "event", "lockout", "limit", "client_auth")
	log.WarnContext(ctx, "audit", "event", "lockout", "limit", "made-up")
	log.WarnContext(ctx, "audit", "event", "made-up")
	log.WarnContext(ctx, "audit", "event", "family_revoked", "reason", "users.sign_out")
	log.WarnContext(ctx, "not audit", "event", "lockout")
	for _, c := range []struct {
		got, want float64
		what      string
	}{
		{testutil.ToFloat64(m.lockouts.WithLabelValues("client_auth")), 1, "client_auth lockouts"},
		{testutil.ToFloat64(m.lockouts.WithLabelValues("other")), 1, "other lockouts"},
		{testutil.ToFloat64(m.events.WithLabelValues("other")), 1, "other events"},
		{testutil.ToFloat64(m.events.WithLabelValues("lockout")), 2, "lockout events"},
		{testutil.ToFloat64(m.familiesGone.WithLabelValues("other")), 1, "families revoked for another reason"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
