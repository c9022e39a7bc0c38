package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"authserver/audit"
)

// Every record logged with a request's context carries its request_id,
// once, through loggers derived with With; records without one are left
// alone.
func TestLogHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(audit.LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := audit.WithRequestID(context.Background(), "req-7")

	log.ErrorContext(ctx, "store failure", "err", "boom")
	if m := record(t, &buf); m["request_id"] != "req-7" || m["msg"] != "store failure" {
		t.Errorf("ErrorContext: %v", m)
	}
	log.With("component", "x").WarnContext(ctx, "derived")
	if m := record(t, &buf); m["request_id"] != "req-7" || m["component"] != "x" {
		t.Errorf("a derived logger: %v", m)
	}
	// An audit event names its request itself: still one request_id.
	audit.New(log).Warn(ctx, audit.Lockout)
	if out := buf.String(); strings.Count(out, `"request_id"`) != 1 {
		t.Errorf("audit event: %s", out)
	}
	buf.Reset()
	log.Info("no context")
	log.InfoContext(context.Background(), "no request")
	if out := buf.String(); strings.Contains(out, "request_id") {
		t.Errorf("a record without a request got a request_id: %s", out)
	}
	if h := audit.LogHandler(log.Handler()); h != log.Handler() {
		t.Error("wrapping twice adds a second layer")
	}
}
