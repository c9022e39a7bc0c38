package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/store"
)

// RedisHook times every Redis command by its name (a fixed set: the
// commands and scripts the store sends). Add it to the client before
// redisstore.New adds its outage hook: go-redis runs the first hook added
// outermost, so this one sees errors already marked store.ErrUnavailable.
func (m *Metrics) RedisHook() redis.Hook {
	m.storeOutages.WithLabelValues("redis") // from 0, for alerts
	return redisHook{m}
}

type redisHook struct{ m *Metrics }

func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		began := time.Now()
		err := next(ctx, cmd)
		h.observe(cmd.Name(), began, cmd.Err())
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		began := time.Now()
		err := next(ctx, cmds)
		failed := err // the pipeline's answer is left as it is
		for _, c := range cmds {
			if failed != nil {
				break
			}
			if c.Err() != nil && !errors.Is(c.Err(), redis.Nil) {
				failed = c.Err()
			}
		}
		h.observe("pipeline", began, failed)
		return err
	}
}

// EmbeddedObserver times the embedded store's transactions ("view",
// "update"); for embedded.Store.Observe. Only an outage counts as an error:
// a transaction also returns the domain's answers (not found, revoked).
func (m *Metrics) EmbeddedObserver() func(op string, began time.Time, err error) {
	for _, op := range []string{"view", "update"} {
		m.storeErrors.WithLabelValues("embedded", op)
	}
	m.storeOutages.WithLabelValues("embedded")
	return func(op string, began time.Time, err error) {
		m.storeDuration.WithLabelValues("embedded", op).Observe(time.Since(began).Seconds())
		if errors.Is(err, store.ErrUnavailable) {
			m.storeErrors.WithLabelValues("embedded", op).Inc()
			m.storeOutages.WithLabelValues("embedded").Inc()
		}
	}
}

func (h redisHook) observe(op string, began time.Time, err error) {
	h.m.storeDuration.WithLabelValues("redis", op).Observe(time.Since(began).Seconds())
	// Looked up on success too, so each op's error count exists from 0.
	errs := h.m.storeErrors.WithLabelValues("redis", op)
	if err == nil || errors.Is(err, redis.Nil) {
		return
	}
	errs.Inc()
	if errors.Is(err, store.ErrUnavailable) {
		h.m.storeOutages.WithLabelValues("redis").Inc()
	}
}
