package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"authserver/store"
)

// reply is an error reply as go-redis hands it over (a redis.Error).
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

// TestIsOutage: the replies of a Redis that cannot serve now, and transport
// failures, are outages; answers and faults (a missing key, a script's
// error, a refused permission, a cancelled request) are not.
func TestIsOutage(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{reply("CLUSTERDOWN The cluster is down"), true},
		{reply("LOADING Redis is loading the dataset in memory"), true},
		{reply("READONLY You can't write against a read only replica."), true},
		{reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{fmt.Errorf("redisstore: get: %w", reply("CLUSTERDOWN Hash slot not served")), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{io.EOF, true},
		{context.DeadlineExceeded, true},
		{redis.ErrClosed, true},
		{redis.ErrPoolTimeout, true},
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{reply("NOPERM this user has no permissions to run the 'get' command"), false},
		{reply("NOSCRIPT No matching script"), false},
		{reply("ERR wrong number of arguments"), false},
		{errors.New("redisstore: decode: bad json"), false},
	} {
		if got := isOutage(c.err); got != c.want {
			t.Errorf("isOutage(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if err := store.Unavailable(reply("LOADING")); isOutage(err) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a marked error is marked once: %v", err)
	}
}
