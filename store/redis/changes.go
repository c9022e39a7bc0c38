package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Feed is one kind of record's change announcements (cache.Changes): the
// ids of changed records, carried to every node's cache on a channel of
// its own. Pub/sub reaches every node of a cluster too.
type Feed struct {
	s       *Store
	channel string
}

// Changes is the feed of kind's records ("client", "user").
func (s *Store) Changes(kind string) *Feed {
	return &Feed{s: s, channel: s.prefix + kind + "-changes"}
}

// PublishChange announces that a client record changed.
func (s *Store) PublishChange(ctx context.Context, id string) error {
	return s.Changes("client").PublishChange(ctx, id)
}

// SubscribeChanges follows the client feed (see Feed.SubscribeChanges).
func (s *Store) SubscribeChanges(ctx context.Context, onChange func(id string), onReset func()) error {
	return s.Changes("client").SubscribeChanges(ctx, onChange, onReset)
}

// PublishChange announces that the record with id changed.
func (f *Feed) PublishChange(ctx context.Context, id string) error {
	return f.s.rdb.Publish(ctx, f.channel, id).Err()
}

// SubscribeChanges delivers announced ids until ctx ends. go-redis
// resubscribes by itself after a lost connection; every (re)subscription and
// every receive error calls onReset, since announcements may have been
// missed meanwhile.
func (f *Feed) SubscribeChanges(ctx context.Context, onChange func(id string), onReset func()) error {
	ps := f.s.rdb.Subscribe(ctx, f.channel)
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
