package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// changesChannel carries the ids of changed clients to every node's cache
// (clients.CachedStore). Pub/sub reaches every node of a cluster too.
func (s *Store) changesChannel() string { return s.prefix + "client-changes" }

// PublishChange announces that a client record changed.
func (s *Store) PublishChange(ctx context.Context, id string) error {
	return s.rdb.Publish(ctx, s.changesChannel(), id).Err()
}

// SubscribeChanges delivers announced client ids until ctx ends. go-redis
// resubscribes by itself after a lost connection; every (re)subscription and
// every receive error calls onReset, since announcements may have been
// missed meanwhile.
func (s *Store) SubscribeChanges(ctx context.Context, onChange func(id string), onReset func()) error {
	ps := s.rdb.Subscribe(ctx, s.changesChannel())
	stop := context.AfterFunc(ctx, func() { ps.Close() }) // Receive does not watch ctx; closing unblocks it
	defer stop()
	defer ps.Close()
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			onReset()
			select { // a pause, so a Redis that is down is not spun on
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			onReset()
		case *redis.Message:
			onChange(m.Payload)
		}
	}
}
