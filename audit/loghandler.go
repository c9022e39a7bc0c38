package audit

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so that every record logged with a request's context
// (InfoContext, ErrorContext, ... or an audit event) carries the request's
// request_id: the server builds its logger with it once, and every package
// that logs with the context it was given follows the request. A record
// logged without a context, or whose context has no request id, is passed
// on as it is.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*requestIDHandler); ok {
		return h
	}
	return &requestIDHandler{h}
}

type requestIDHandler struct{ h slog.Handler }

func (w *requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return w.h.Enabled(ctx, l)
}

func (w *requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestIDFrom(ctx); id != "" && !hasRequestID(r) {
			r = r.Clone() // the caller's record is not ours to change
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return w.h.Handle(ctx, r)
}

func (w *requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &requestIDHandler{w.h.WithAttrs(as)}
}

func (w *requestIDHandler) WithGroup(name string) slog.Handler {
	return &requestIDHandler{w.h.WithGroup(name)}
}

// hasRequestID reports whether r already names its request (audit events
// add request_id themselves, so they also work without this handler).
func hasRequestID(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == "request_id"
		return !found
	})
	return found
}
