package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetLogger sends go-redis's own log lines (pool, pub/sub and Sentinel
// trouble) to log at WARN, so they join the server's JSON log instead of
// going to stderr as plain text; lines logged with a request's context
// carry its request id when log's handler adds it (audit.LogHandler).
func SetLogger(log *slog.Logger) {
	// go-redis v9's logger is process-global: the last caller wins.
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
