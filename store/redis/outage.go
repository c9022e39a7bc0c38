package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/store"
)

// opTimeout bounds one command (or pipeline) when the caller's context
// allows longer: a Redis that stalls makes a request fail as unavailable
// in bounded time instead of hanging on go-redis's retries.
const opTimeout = 2 * time.Second

// outageHook marks every outage error a command returns as
// store.ErrUnavailable, on the command itself too (callers read cmd.Err),
// so no code path can leak one as a plain error. It sits outside go-redis's
// own retries and redirects, so only what is left after them is marked.
type outageHook struct{}

func (outageHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (outageHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := bounded(ctx)
		defer cancel()
		err := next(ctx, cmd)
		if isOutage(err) {
			err = store.Unavailable(err)
			cmd.SetErr(err)
		}
		return err
	}
}

func (outageHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := bounded(ctx)
		defer cancel()
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if isOutage(cmd.Err()) {
				cmd.SetErr(store.Unavailable(cmd.Err()))
			}
		}
		if isOutage(err) {
			err = store.Unavailable(err)
		}
		return err
	}
}

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= opTimeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}

// outageReplies are the error replies of a Redis that is up but cannot
// serve now: a cluster without a quorum or coverage, a node loading its
// data, a replica during failover, a multi-key command during resharding,
// a replica that lost its master.
var outageReplies = []string{"CLUSTERDOWN", "LOADING", "READONLY", "TRYAGAIN", "MASTERDOWN"}

// isOutage reports whether err means Redis is unreachable or unable to
// serve, as opposed to a reply that is the answer (redis.Nil, a script's
// own error) or a cancelled request.
func isOutage(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, store.ErrUnavailable) {
		return false // marked already
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range outageReplies {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}
