package redistest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// writeEveryType stores one key of each type under keys tagged with tag,
// each holding markers, and returns the markers the dump must yield.
func writeEveryType(t *testing.T, c redis.Cmdable, tag string) []string {
	t.Helper()
	ctx := t.Context()
	m := func(what string) string { return fmt.Sprintf("marker-%s-%s", tag, what) }
	errs := []error{
		c.Set(ctx, m("string-key"), m("string-value"), 0).Err(),
		c.HSet(ctx, "{"+tag+"h}", m("hash-field"), m("hash-value")).Err(),
		c.SAdd(ctx, "{"+tag+"s}", m("set-member")).Err(),
		c.ZAdd(ctx, "{"+tag+"z}", redis.Z{Score: 1, Member: m("zset-member")}).Err(),
		c.RPush(ctx, "{"+tag+"l}", "x", m("list-element")).Err(),
		c.XAdd(ctx, &redis.XAddArgs{Stream: "{" + tag + "x}", Values: map[string]any{m("stream-field"): m("stream-value")}}).Err(),
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return []string{m("string-key"), m("string-value"), m("hash-field"), m("hash-value"), m("set-member"),
		m("zset-member"), m("list-element"), m("stream-field"), m("stream-value")}
}

// wantDumped fails unless dump yields every marker.
func wantDumped(t *testing.T, dump func(func(string, []byte)) error, markers []string) {
	t.Helper()
	var all strings.Builder
	if err := dump(func(where string, data []byte) { all.Write(data); all.WriteByte(0) }); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	for _, m := range markers {
		if !strings.Contains(all.String(), "\x00"+m+"\x00") && !strings.HasPrefix(all.String(), m+"\x00") {
			t.Errorf("Dump did not yield %q", m)
		}
	}
}

func TestStandaloneDump(t *testing.T) {
	t.Parallel()
	s := StartStandalone(t)
	markers := writeEveryType(t, s.Client(t), "db0")
	db3 := redis.NewClient(&redis.Options{Addr: s.Addr, DB: 3})
	defer db3.Close()
	markers = append(markers, writeEveryType(t, db3, "db3")...)
	wantDumped(t, s.Dump, markers)
}
