package redisstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options says how to reach Redis. Exactly one topology:
//   - standalone: URL;
//   - Sentinel: MasterName and Addrs (the sentinels);
//   - Cluster: Cluster and Addrs (any or all nodes; all is better, so the
//     client can start while some are down).
type Options struct {
	// URL is a standalone server: redis://user:pass@host:port/db, or
	// rediss:// for TLS.
	URL string
	// Addrs are the sentinels (with MasterName) or the cluster nodes (with
	// Cluster), as host:port.
	Addrs []string
	// MasterName selects Sentinel: the name the sentinels monitor.
	MasterName string
	// Cluster selects Redis Cluster.
	Cluster bool
	// Username and Password authenticate to the data nodes (not to the
	// sentinels); with URL they replace the URL's when set.
	Username, Password string
	// DB is the database number (standalone and Sentinel; a cluster has only
	// 0); with URL it replaces the URL's when not 0.
	DB int
	// PoolSize is connections per node; 0 means DefaultPoolSize.
	PoolSize int
	// KeyPrefix starts every key (see New); Connect does not use it.
	KeyPrefix string
}

// clusterStateReloadInterval bounds how long a cluster client keeps using a
// stale topology. go-redis reloads on MOVED/ASK but not on a dial error, so
// with its 60 s default a client keeps dialing a dead master for a minute
// after its replica took over.
const clusterStateReloadInterval = time.Second

// Every client honours its context's deadline on the socket
// (ContextTimeoutEnabled): without it go-redis waits its own 3 s read
// timeout, so a stalled server would hold a readiness check or a request
// past its bound.

// pingTimeout bounds the connection check when ctx has no deadline.
const pingTimeout = 5 * time.Second

// Connect builds the client for o's topology and checks it with PING. It
// returns an error naming the option at fault, or the topology that did not
// answer.
func Connect(ctx context.Context, o Options) (redis.UniversalClient, error) {
	c, what, err := o.client()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisstore: %s did not answer PING: %w", what, err)
	}
	return c, nil
}

// validate checks o without connecting.
func (o Options) validate() error {
	switch {
	case o.Cluster && o.MasterName != "":
		return errors.New("redisstore: Options.Cluster and Options.MasterName are exclusive: choose Cluster or Sentinel")
	case o.URL != "" && (o.Cluster || o.MasterName != "" || len(o.Addrs) > 0):
		return errors.New("redisstore: Options.URL is for one standalone server; for Sentinel or Cluster set Addrs (with MasterName or Cluster) instead")
	case o.URL == "" && len(o.Addrs) == 0:
		if o.Cluster || o.MasterName != "" {
			return errors.New("redisstore: Options.Addrs is empty: list the sentinels (MasterName) or cluster nodes (Cluster)")
		}
		return errors.New("redisstore: Options.URL is empty: give a redis:// URL, or Addrs with MasterName or Cluster")
	case len(o.Addrs) > 0 && !o.Cluster && o.MasterName == "":
		return errors.New("redisstore: Options.Addrs needs Options.MasterName (Sentinel) or Options.Cluster; for one server use Options.URL")
	case o.Cluster && o.DB != 0:
		return fmt.Errorf("redisstore: Options.DB is %d, but a cluster has only database 0", o.DB)
	case o.DB < 0:
		return fmt.Errorf("redisstore: Options.DB is %d; it cannot be negative", o.DB)
	case o.PoolSize < 0:
		return fmt.Errorf("redisstore: Options.PoolSize is %d; it cannot be negative", o.PoolSize)
	}
	for i, a := range o.Addrs {
		if strings.TrimSpace(a) == "" || !strings.Contains(a, ":") {
			return fmt.Errorf("redisstore: Options.Addrs[%d] is %q; want host:port", i, a)
		}
	}
	return nil
}

// DefaultPoolSize is the connection pool per node when none is configured:
// go-redis's 10 per core, but at least 64. A node on one core serving 32
// concurrent requests would otherwise queue them on 10 connections.
func DefaultPoolSize() int { return max(10*runtime.GOMAXPROCS(0), 64) }

// client builds the client for o and says which topology it reaches.
func (o Options) client() (redis.UniversalClient, string, error) {
	if err := o.validate(); err != nil {
		return nil, "", err
	}
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPoolSize()
	}
	switch {
	case o.Cluster:
		// Built as ClusterOptions, not UniversalOptions, which has no field
		// for the reload interval.
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                      o.Addrs,
			Username:                   o.Username,
			Password:                   o.Password,
			PoolSize:                   o.PoolSize,
			ClusterStateReloadInterval: clusterStateReloadInterval,
			ContextTimeoutEnabled:      true,
		})
		return c, fmt.Sprintf("Redis Cluster at %v", o.Addrs), nil
	case o.MasterName != "":
		c := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            o.MasterName,
			SentinelAddrs:         o.Addrs,
			Username:              o.Username,
			Password:              o.Password,
			DB:                    o.DB,
			PoolSize:              o.PoolSize,
			ContextTimeoutEnabled: true,
		})
		return c, fmt.Sprintf("Sentinel master %q via %v", o.MasterName, o.Addrs), nil
	default:
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, "", fmt.Errorf("redisstore: Options.URL: %w", err)
		}
		if o.Username != "" {
			opt.Username = o.Username
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		if o.DB != 0 {
			opt.DB = o.DB
		}
		opt.PoolSize = o.PoolSize
		opt.ContextTimeoutEnabled = true
		return redis.NewClient(opt), "Redis at " + opt.Addr, nil
	}
}
