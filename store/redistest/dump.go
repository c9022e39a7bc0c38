package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// dumpTimeout bounds one whole dump.
const dumpTimeout = 30 * time.Second

// Dump calls yield with every key the server holds, in every database, and
// everything stored under it: a string's value, a hash's fields and values,
// the members of a set or sorted set, a list's elements, a stream's entry
// IDs, fields and values. A key of any other type is an error, never
// skipped. Its signature is storetest.Dumper's.
func (s *Server) Dump(yield func(where string, data []byte)) error {
	ctx, cancel := context.WithTimeout(context.Background(), dumpTimeout)
	defer cancel()
	return dumpNode(ctx, s.Addr, yield)
}

// Dump is Server.Dump over every master of the cluster (each holds only
// its own slots, and SCAN reads one node).
func (c *Cluster) Dump(yield func(where string, data []byte)) error {
	ctx, cancel := context.WithTimeout(context.Background(), dumpTimeout)
	defer cancel()
	view, err := c.view()
	if err != nil {
		return fmt.Errorf("redistest: dump: CLUSTER NODES: %w", err)
	}
	masters := 0
	for _, n := range view {
		if !n.master || n.failed || len(n.slots) == 0 {
			continue
		}
		masters++
		if err := dumpNode(ctx, n.addr, yield); err != nil {
			return err
		}
	}
	if masters < c.masters {
		return fmt.Errorf("redistest: dump: %d masters serve slots, want %d", masters, c.masters)
	}
	return nil
}

// dumpNode dumps every database INFO keyspace lists on the node at addr.
func dumpNode(ctx context.Context, addr string, yield func(string, []byte)) error {
	cl := redis.NewClient(&redis.Options{Addr: addr})
	info, err := cl.Info(ctx, "keyspace").Result()
	cl.Close()
	if err != nil {
		return fmt.Errorf("redistest: dump %s: %w", addr, err)
	}
	for _, line := range strings.Split(info, "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		n, err := strconv.Atoi(strings.TrimPrefix(name, "db"))
		if !ok || !strings.HasPrefix(name, "db") || err != nil {
			continue
		}
		if err := dumpDB(ctx, addr, n, yield); err != nil {
			return fmt.Errorf("redistest: dump %s db%d: %w", addr, n, err)
		}
	}
	return nil
}

func dumpDB(ctx context.Context, addr string, db int, yield func(string, []byte)) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer cl.Close()
	keys := cl.Scan(ctx, 0, "", 1000).Iterator()
	for keys.Next(ctx) {
		key := keys.Val()
		where := fmt.Sprintf("%s db%d %q", addr, db, key)
		yield(where+" (the key)", []byte(key))
		if err := dumpKey(ctx, cl, key, where, yield); err != nil {
			return err
		}
	}
	return keys.Err()
}

func dumpKey(ctx context.Context, cl *redis.Client, key, where string, yield func(string, []byte)) error {
	typ, err := cl.Type(ctx, key).Result()
	if err != nil {
		return err
	}
	each := func(what string, it *redis.ScanIterator) error {
		for it.Next(ctx) {
			yield(where+" "+what, []byte(it.Val()))
		}
		return it.Err()
	}
	switch typ {
	case "none": // expired since SCAN listed it
		return nil
	case "string":
		v, err := cl.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		yield(where+" value", v)
		return err
	case "hash":
		return each("field or value", cl.HScan(ctx, key, 0, "", 1000).Iterator())
	case "set":
		return each("member", cl.SScan(ctx, key, 0, "", 1000).Iterator())
	case "zset":
		return each("member or score", cl.ZScan(ctx, key, 0, "", 1000).Iterator())
	case "list":
		vs, err := cl.LRange(ctx, key, 0, -1).Result()
		for _, v := range vs {
			yield(where+" element", []byte(v))
		}
		return err
	case "stream":
		msgs, err := cl.XRange(ctx, key, "-", "+").Result()
		for _, m := range msgs {
			yield(where+" entry ID", []byte(m.ID))
			for f, v := range m.Values {
				yield(where+" entry field", []byte(f))
				yield(where+" entry value", []byte(fmt.Sprint(v)))
			}
		}
		return err
	}
	return fmt.Errorf("%s: type %s, which the dump cannot read", where, typ)
}
