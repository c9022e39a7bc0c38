package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/clients"
	"authserver/keys"
	"authserver/registration"
	"authserver/sessions"
	"authserver/store"
	"authserver/store/redistest"
	"authserver/store/storetest"
	"authserver/tokens"
	"authserver/users"
)

// Each topology is started once per test function and shared by its
// subtests; the top-level tests run in parallel so the starts overlap.

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// conformance runs the shared suite against a store built by open.
func conformance(t *testing.T, open func(t testing.TB) *Store) {
	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Backend { return open(t) })
	})
}

func randPrefix() string { return "t" + rand.Text()[:10] + ":" }

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestStandalone(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := redistest.StartStandalone(t)
	t.Logf("standalone up in %v", time.Since(start))
	open := func(t testing.TB) *Store {
		return openStore(t, Options{URL: srv.URL(), KeyPrefix: randPrefix()})
	}
	conformance(t, open)
	t.Run("KeyLayout", func(t *testing.T) {
		t.Parallel()
		testKeyLayout(t, open(t), srv.Client(t))
	})
	t.Run("PrefixIsolation", func(t *testing.T) {
		t.Parallel()
		testPrefixIsolation(t, open(t), open(t))
	})
	t.Run("UsersHalfDone", func(t *testing.T) {
		t.Parallel()
		testUsersHalfDone(t, open(t), srv.Client(t))
	})
	t.Run("UserRecordWithoutProfile", func(t *testing.T) {
		t.Parallel()
		testUserRecordWithoutProfile(t, open(t), srv.Client(t))
	})
	t.Run("FamilyIndex", func(t *testing.T) {
		t.Parallel()
		testFamilyIndex(t, open(t), srv.Client(t))
	})
	t.Run("Edges", func(t *testing.T) {
		t.Parallel()
		testEdges(t, open(t))
	})
	t.Run("ConnectURLOptions", func(t *testing.T) {
		t.Parallel()
		// DB from Options replaces the URL's; a store on db 3 does not see
		// db 0.
		st := openStore(t, Options{URL: srv.URL(), DB: 3, PoolSize: 2})
		if err := st.CreateClient(t.Context(), &clients.Client{ID: "db3"}); err != nil {
			t.Fatal(err)
		}
		raw := srv.Client(t)
		if n, _ := raw.Exists(t.Context(), "{client:db3}").Result(); n != 0 {
			t.Fatal("Options.DB ignored: the record is in db 0")
		}
		db3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
		defer db3.Close()
		if n, _ := db3.Exists(t.Context(), "{client:db3}").Result(); n != 1 {
			t.Fatal("record not in db 3")
		}
	})
}

func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := redistest.StartCluster(t, 3, 0)
	t.Logf("3-master cluster up in %v", time.Since(start))
	open := func(t testing.TB) *Store {
		return openStore(t, Options{Cluster: true, Addrs: c.Addrs, KeyPrefix: randPrefix()})
	}
	conformance(t, open)
	t.Run("HashTags", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		ctx := t.Context()
		cl := st.Client().(*redis.ClusterClient)
		slot := func(k string) int64 {
			n, err := cl.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatalf("CLUSTER KEYSLOT: %v", err)
			}
			return n
		}
		// The one script with two keys must have them in one slot.
		ks := st.keyKeys()
		if slot(ks[0]) != slot(ks[1]) {
			t.Fatalf("%v are in different slots", ks)
		}
		// Records spread: different families are not pinned to one slot.
		seen := map[int64]bool{}
		for i := range 20 {
			seen[slot(st.key("fam", fmt.Sprint("f", i)))] = true
		}
		if len(seen) < 10 {
			t.Fatalf("20 family keys fell into %d slots", len(seen))
		}
	})
	t.Run("Edges", func(t *testing.T) {
		t.Parallel()
		testEdges(t, open(t))
	})
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := redistest.StartSentinel(t)
	t.Logf("sentinel group up in %v", time.Since(start))
	open := func(t testing.TB) *Store {
		return openStore(t, Options{MasterName: s.MasterName, Addrs: s.SentinelAddrs, KeyPrefix: randPrefix()})
	}
	// The conformance run finishes before the failover below starts.
	t.Run("Suite", func(t *testing.T) { conformance(t, open) })
	t.Run("Failover", func(t *testing.T) {
		st := open(t)
		fam, tok := seed(t, st)
		old := s.KillMaster(t)
		killed := time.Now()
		rec := recoverWithin(t, 10*time.Second, func(ctx context.Context) error {
			return rotateWithGrace(ctx, st, fam, tok)
		})
		t.Logf("Sentinel: master %s killed; store working again after %v (new master %s)",
			old, rec, s.WaitFailover(t, old, 10*time.Second))
		afterFailover(t, st, killed)
	})
}

func TestClusterFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := redistest.StartCluster(t, 3, 1)
	t.Logf("3-master, 3-replica cluster up in %v", time.Since(start))
	st := openStore(t, Options{Cluster: true, Addrs: c.Addrs, KeyPrefix: randPrefix()})
	// Family writes go to the master owning their slot, with WAIT, and
	// must find the new master after the failover.
	st.WaitForReplicas(1, 300*time.Millisecond)
	fam, tok := seed(t, st)
	old := c.KillMaster(t, st.key("fam", fam.ID))
	rec := recoverWithin(t, 15*time.Second, func(ctx context.Context) error {
		return rotateWithGrace(ctx, st, fam, tok)
	})
	t.Logf("Cluster: master %s killed; store working again after %v; masters now %v", old, rec, c.Masters(t))
	afterFailover(t, st, time.Now())
}

// seed writes what the failover tests expect to survive: a client and a
// refresh-token family.
func seed(t *testing.T, st *Store) (tokens.Family, []byte) {
	t.Helper()
	ctx := t.Context()
	if err := st.CreateClient(ctx, &clients.Client{ID: "survivor"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	now := time.Now()
	f := tokens.Family{ID: "fam-" + rand.Text(), ClientID: "survivor", UserID: "u1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	tok := sha("first")
	if err := st.CreateFamily(ctx, f, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	return f, tok
}

// rotateWithGrace rotates the family's first token. The grace window makes a
// retry safe: if an attempt ran on the server but its reply was lost in the
// failover, the next attempt (with the same successor, as the chain makes
// it) is a retry within grace, not reuse.
func rotateWithGrace(ctx context.Context, st *Store, f tokens.Family, tok []byte) error {
	got, _, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: f.ID, ClientID: f.ClientID,
		Presented: tok, Next: sha("next-" + f.ID), NextJTI: "j", Now: time.Now(),
		Idle: time.Hour, Grace: time.Minute})
	if err != nil {
		return err
	}
	if got.Generation < 1 {
		return fmt.Errorf("generation %d after rotation", got.Generation)
	}
	return nil
}

// recoverWithin retries op until it succeeds, failing the test after limit;
// it returns how long recovery took. A contract error (the data did not
// survive) fails at once.
func recoverWithin(t *testing.T, limit time.Duration, op func(context.Context) error) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < limit {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := op(ctx)
		cancel()
		if err == nil {
			return time.Since(start)
		}
		for _, fatal := range []error{tokens.ErrFamilyNotFound, tokens.ErrReuse, tokens.ErrFamilyRevoked} {
			if errors.Is(err, fatal) {
				t.Fatalf("after failover: %v (data lost or rotation replayed)", err)
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("store not working %v after the master was killed: %v", limit, last)
	return 0
}

// afterFailover checks that data written before the kill is there and that
// new writes in every slot work.
func afterFailover(t *testing.T, st *Store, killed time.Time) {
	t.Helper()
	ctx := t.Context()
	if _, err := st.GetClient(ctx, "survivor"); err != nil {
		t.Fatalf("client written before the failover: %v", err)
	}
	// Fresh keys land in every slot range, including the promoted replica's.
	err := func() error {
		for i := range 30 {
			id := fmt.Sprintf("after-%d", i)
			if err := st.CreateClient(ctx, &clients.Client{ID: id}); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		t.Fatalf("writes %v after the kill: %v", time.Since(killed), err)
	}
	list, err := st.ListClients(ctx)
	if err != nil || len(list) != 31 {
		t.Fatalf("ListClients after failover: %d clients, %v; want 31", len(list), err)
	}
}

func testKeyLayout(t *testing.T, st *Store, raw *redis.Client) {
	ctx := t.Context()
	p := st.prefix
	now := time.Now().Truncate(time.Millisecond)
	exp := now.Add(time.Hour)

	f := tokens.Family{ID: "f1", ClientID: "c1", UserID: "u1", CreatedAt: now,
		ExpiresAt: exp, IdleExpiresAt: now.Add(10 * time.Minute)}
	famExp := exp.Add(time.Hour)
	g := f
	g.ID, g.ExpiresAt = "f2", famExp
	codeHash, sessHash, refresh := sha("code"), sha("cookie"), sha("refresh")
	iatHash, iatExp := sha("initial access token"), now.Add(3*time.Hour)
	steps := []error{
		st.CreateClient(ctx, &clients.Client{ID: "c1"}),
		st.CreateUser(ctx, &users.User{ID: "u1", Username: "alice"}),
		func() error { _, err := st.CreateFirstKey(ctx, keys.StoredKey{ID: "k1", Alg: "ES256"}); return err }(),
		func() error { _, _, err := st.AddFailure(ctx, "login:alice", time.Minute); return err }(),
		st.CreateFamily(ctx, f, refresh),
		st.CreateFamily(ctx, g, sha("refresh2")),
		st.SaveCode(ctx, codeHash, tokens.Code{ClientID: "c1", ExpiresAt: now.Add(time.Minute)}),
		st.DenyJTI(ctx, "jti1", now.Add(5*time.Minute)),
		st.SaveSession(ctx, sessHash, sessions.Session{UserID: "u1", ExpiresAt: now.Add(2 * time.Hour)}),
		st.SaveConsent(ctx, sessions.Consent{UserID: "u1", ClientID: "c1"}),
		st.CreateInitialAccessToken(ctx, iatHash, registration.InitialAccessToken{ExpiresAt: iatExp, UsesLeft: 2}),
		func() error {
			_, err := st.RememberOnce(ctx, "client:c1 jti:{raw}", now.Add(4*time.Minute))
			return err
		}(),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatalf("writing records: %v", err)
	}
	hexOf := func(b []byte) string { return fmt.Sprintf("%x", b) }
	// Key -> expiry (0: none).
	want := map[string]time.Time{
		p + "{client:c1}":                    {},
		p + "{clients}":                      {},
		p + "{user:u1}":                      {},
		p + "{uname:alice}":                  {},
		p + "{users}":                        {},
		p + "{keys}:all":                     {},
		p + "{keys}:alg":                     {},
		p + "{rl:login:alice}":               {}, // window checked apart
		p + "{fam:f1}":                       exp,
		p + "{fam:f2}":                       famExp,
		p + "{ufam:u1}":                      famExp, // its longest-lived family
		p + "{cfam:c1}":                      famExp, // likewise
		p + "{code:" + hexOf(codeHash) + "}": now.Add(time.Minute),
		p + "{deny:jti1}":                    now.Add(5 * time.Minute),
		p + "{sess:" + hexOf(sessHash) + "}": now.Add(2 * time.Hour),
		p + "{consent:u1}":                   {},
		p + "{iat:" + hexOf(iatHash) + "}":   iatExp,
		// The caller's text (braces and all) is hashed, never the key.
		p + "{once:" + hexOf(sha("client:c1 jti:{raw}")) + "}": now.Add(4 * time.Minute),
	}
	got, err := raw.Keys(ctx, p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("keys: got %d %q, want %d", len(got), got, len(want))
	}
	for _, k := range got {
		w, ok := want[k]
		if !ok {
			t.Fatalf("unexpected key %q", k)
		}
		at, err := raw.PExpireTime(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.Contains(k, "{rl:"):
			if ttl := raw.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
				t.Fatalf("%s: window %v, want within a minute", k, ttl)
			}
		case w.IsZero():
			if at != -1 {
				t.Fatalf("%s expires (%v); it should not", k, at)
			}
		case at != time.Duration(w.UnixMilli())*time.Millisecond:
			t.Fatalf("%s expires at %v, want %v", k, time.UnixMilli(at.Milliseconds()), w)
		}
	}
	// Only hashes are stored: neither the raw token nor its text appears.
	vals, _ := raw.HGetAll(ctx, p+"{fam:f1}").Result()
	if vals["cur"] != hexOf(refresh) {
		t.Fatalf("family holds %q as its current token, want the hash's hex", vals["cur"])
	}
	if err := st.SaveCode(ctx, []byte("raw-code-value-passed-by-mistake-0123456789"), tokens.Code{}); err == nil {
		t.Fatal("SaveCode accepted something that is not a SHA-256")
	}
	rawIAT := registration.InitialAccessToken{ExpiresAt: iatExp, UsesLeft: 1}
	if err := st.CreateInitialAccessToken(ctx, []byte("raw-initial-access-token-passed-by-mistake"), rawIAT); err == nil {
		t.Fatal("CreateInitialAccessToken accepted something that is not a SHA-256")
	}
}

func testPrefixIsolation(t *testing.T, a, b *Store) {
	ctx := t.Context()
	if err := a.CreateClient(ctx, &clients.Client{ID: "same"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetClient(ctx, "same"); !errors.Is(err, clients.ErrNotFound) {
		t.Fatalf("another prefix sees the client: %v", err)
	}
	if err := b.CreateClient(ctx, &clients.Client{ID: "same"}); err != nil {
		t.Fatalf("the ID is taken across prefixes: %v", err)
	}
	if l, _ := a.ListClients(ctx); len(l) != 1 {
		t.Fatalf("ListClients under one prefix: %d clients", len(l))
	}
}

// testUserRecordWithoutProfile: a record written before profiles existed
// loads with none set.
func testUserRecordWithoutProfile(t *testing.T, st *Store, raw *redis.Client) {
	ctx := t.Context()
	const old = `{"id":"u-old","username":"olga-old","password_hash":"$argon2id$x","generation":2,` +
		`"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`
	raw.Set(ctx, st.key("user", "u-old"), old, 0)
	raw.Set(ctx, st.key("uname", "olga-old"), "u-old", 0)
	raw.SAdd(ctx, st.global("users"), "u-old")
	u, err := st.GetUser(ctx, "u-old")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if u.Username != "olga-old" || u.Generation != 2 || u.Profile != (users.Profile{}) || !u.GenerationStartedAt.IsZero() {
		t.Fatalf("old record loaded as %+v", u)
	}
}

// testUsersHalfDone lays down what a create or delete that died half-way
// leaves behind and checks that none of it reads as a user.
func testUsersHalfDone(t *testing.T, st *Store, raw *redis.Client) {
	ctx := t.Context()
	rec := func(id, name string) string {
		d, _ := marshal(users.User{ID: id, Username: name})
		return d
	}
	// A record with no username claim (delete died after releasing the name,
	// or create died and its lease lapsed).
	raw.Set(ctx, st.key("user", "orphan"), rec("orphan", "olga"), 0)
	raw.SAdd(ctx, st.global("users"), "orphan")
	if _, err := st.GetUser(ctx, "orphan"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("GetUser(orphan record): %v, want ErrNotFound", err)
	}
	if _, err := st.GetUserByUsername(ctx, "olga"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("GetUserByUsername(orphan record): %v, want ErrNotFound", err)
	}
	if err := st.UpdateUser(ctx, &users.User{ID: "orphan", Username: "olga"}); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("UpdateUser(orphan record): %v, want ErrNotFound", err)
	}
	if err := st.CreateUser(ctx, &users.User{ID: "olga2", Username: "olga"}); err != nil {
		t.Fatalf("the orphan's username is not free: %v", err)
	}
	// A claim naming another ID than the record's.
	raw.Set(ctx, st.key("user", "u-x"), rec("u-x", "xavier"), 0)
	raw.Set(ctx, st.key("uname", "xavier"), "u-y", 0)
	if _, err := st.GetUser(ctx, "u-x"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("GetUser(record whose name is claimed by another): %v, want ErrNotFound", err)
	}
	// A claim with no record (create died after claiming): the name is
	// taken only until the lease lapses.
	raw.Set(ctx, st.key("uname", "zed"), "ghost", 200*time.Millisecond)
	if _, err := st.GetUserByUsername(ctx, "zed"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("GetUserByUsername(claim only): %v, want ErrNotFound", err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := st.CreateUser(ctx, &users.User{ID: "zed1", Username: "zed"}); err != nil {
		t.Fatalf("lapsed claim still blocks the name: %v", err)
	}
	// A finished create leaves no TTL on the claim.
	if ttl := raw.PTTL(ctx, st.key("uname", "zed")).Val(); ttl != -1 {
		t.Fatalf("username claim after create has TTL %v, want none", ttl)
	}
	list, err := st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Username+"="+u.ID)
	}
	if got := strings.Join(names, ","); got != "olga=olga2,zed=zed1" {
		t.Fatalf("ListUsers = %s; half-done users must not be listed", got)
	}
}

func testFamilyIndex(t *testing.T, st *Store, raw *redis.Client) {
	ctx := t.Context()
	now := time.Now()
	mk := func(id string) {
		f := tokens.Family{ID: id, ClientID: "c", UserID: "u", CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
		if err := st.CreateFamily(ctx, f, sha(id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		mk(id)
	}
	idx := st.key("ufam", "u")
	if _, err := st.RevokeFamily(ctx, "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	raw.Del(ctx, st.key("fam", "c")) // evicted, or expired by Redis's clock
	fams, err := st.ListUserFamilies(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 2 || fams[0].ID != "a" || fams[1].ID != "d" {
		t.Fatalf("ListUserFamilies = %+v, want a and d", fams)
	}
	ids, _ := raw.ZRange(ctx, idx, 0, -1).Result()
	if strings.Join(ids, ",") != "a,d" {
		t.Fatalf("index after listing = %v; revoked and vanished IDs should be pruned", ids)
	}
}

func testEdges(t *testing.T, st *Store) {
	ctx := t.Context()
	now := time.Now()

	// No idle limit: the idle expiry follows the absolute one.
	f := tokens.Family{ID: "edge-" + rand.Text(), ClientID: "c", UserID: "u", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Minute)}
	if err := st.CreateFamily(ctx, f, sha("t0")); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: f.ID, ClientID: "c",
		Presented: sha("t0"), Next: sha("t1"), NextJTI: "j1", Now: now})
	if err != nil || !got.IdleExpiresAt.Equal(f.ExpiresAt) {
		t.Fatalf("rotation with Idle 0: %+v, %v; want idle expiry = %v", got, err, f.ExpiresAt)
	}
	// A family past its idle expiry is no family: not found before the
	// client is even compared, and revoking it leaves a tombstone in its
	// place that blocks a create with its ID.
	stale := tokens.Family{ID: "stale-" + rand.Text(), ClientID: "c", UserID: "u", CreatedAt: now.Add(-time.Hour),
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(-time.Millisecond)}
	if err := st.CreateFamily(ctx, stale, sha("s0")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: stale.ID, ClientID: "other",
		Presented: sha("s0"), Next: sha("s1"), Now: now}); !errors.Is(err, tokens.ErrFamilyNotFound) {
		t.Fatalf("rotating an idle-expired family as another client: %v, want ErrFamilyNotFound", err)
	}
	if _, err := st.RevokeFamily(ctx, stale.ID, time.Minute); !errors.Is(err, tokens.ErrFamilyNotFound) {
		t.Fatalf("revoking an idle-expired family: %v, want ErrFamilyNotFound", err)
	}
	if h := st.rdb.HGetAll(ctx, st.key("fam", stale.ID)).Val(); h["tomb"] != "1" || h["d"] != "" {
		t.Fatalf("expired family after revoke = %v, want a bare tombstone", h)
	}
	fresh := stale
	fresh.IdleExpiresAt = now.Add(time.Hour)
	if err := st.CreateFamily(ctx, fresh, sha("s2")); !errors.Is(err, tokens.ErrFamilyExists) {
		t.Fatalf("CreateFamily over the tombstone: %v, want ErrFamilyExists", err)
	}
	// Without a revoke, an expired family's ID can be created again.
	again := tokens.Family{ID: "again-" + rand.Text(), ClientID: "c", UserID: "u", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(-time.Millisecond)}
	if err := st.CreateFamily(ctx, again, sha("a0")); err != nil {
		t.Fatal(err)
	}
	again.IdleExpiresAt = now.Add(time.Hour)
	if err := st.CreateFamily(ctx, again, sha("a1")); err != nil {
		t.Fatalf("CreateFamily over an expired family: %v", err)
	}
	if g, err := st.GetFamily(ctx, again.ID); err != nil || !g.IdleExpiresAt.Equal(again.IdleExpiresAt) {
		t.Fatalf("recreated family: %+v, %v", g, err)
	}
	// A rotation of an unknown family is not found, and leaves nothing.
	if _, _, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: "none-" + rand.Text(), ClientID: "c",
		Presented: sha("x"), Next: sha("y"), Now: now}); !errors.Is(err, tokens.ErrFamilyNotFound) {
		t.Fatalf("rotating an unknown family: %v", err)
	}
	// Hashes of the wrong size are refused before reaching Redis.
	if _, _, err := st.RotateRefresh(ctx, tokens.Rotation{FamilyID: f.ID, ClientID: "c",
		Presented: []byte("short"), Next: sha("y"), Now: now}); err == nil {
		t.Fatal("RotateRefresh accepted a presented value that is not a SHA-256")
	}
	if _, err := st.GetSession(ctx, []byte("raw cookie")); err == nil || errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("GetSession with a raw value: %v, want a usage error", err)
	}
	// A key ID is never reused for other key material.
	alg := "EdDSA-" + rand.Text()
	k := keys.StoredKey{ID: "kid-" + rand.Text(), Alg: alg, CreatedAt: now}
	if err := st.AddKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.AddKey(ctx, k); err == nil {
		t.Fatal("AddKey stored a second key under a taken key ID")
	}
	if _, _, err := st.AddFailure(ctx, "k", 0); err == nil {
		t.Fatal("AddFailure accepted a zero window")
	}
	if _, _, _, err := st.Reserve(ctx, "k", 5, 0); err == nil {
		t.Fatal("Reserve accepted a zero window")
	}
	// A used code saved again (same hash) is a fresh code.
	h := sha("code-" + rand.Text())
	c := tokens.Code{ClientID: "c", ExpiresAt: now.Add(time.Minute)}
	if err := st.SaveCode(ctx, h, c); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RedeemCode(ctx, h, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RedeemCode(ctx, h, now); !errors.Is(err, tokens.ErrCodeReused) {
		t.Fatalf("replay: %v", err)
	}
}

func TestConnectOptions(t *testing.T) {
	t.Parallel()
	bad := []struct {
		o    Options
		want string
	}{
		{Options{}, "Options.URL"},
		{Options{Cluster: true}, "Options.Addrs"},
		{Options{MasterName: "m"}, "Options.Addrs"},
		{Options{Cluster: true, MasterName: "m", Addrs: []string{"h:1"}}, "Options.Cluster and Options.MasterName"},
		{Options{URL: "redis://h:1", Addrs: []string{"h:2"}}, "Options.URL"},
		{Options{URL: "redis://h:1", Cluster: true}, "Options.URL"},
		{Options{Addrs: []string{"h:1", "h:2"}}, "Options.Addrs needs"},
		{Options{Cluster: true, Addrs: []string{"h:1"}, DB: 2}, "Options.DB"},
		{Options{URL: "redis://h:1", DB: -1}, "Options.DB"},
		{Options{URL: "redis://h:1", PoolSize: -1}, "Options.PoolSize"},
		{Options{Cluster: true, Addrs: []string{"h:1", ""}}, "Options.Addrs[1]"},
		{Options{URL: "http://h:1"}, "Options.URL"},
	}
	for _, c := range bad {
		_, err := Connect(t.Context(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Connect(%+v) = %v; want an error naming %s", c.o, err, c.want)
		}
	}
}

func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	// Start and stop a server: its port is then known to be closed.
	srv := redistest.StartStandalone(t)
	srv.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := Connect(ctx, Options{URL: srv.URL()})
	if err == nil || !strings.Contains(err.Error(), "did not answer PING") || !strings.Contains(err.Error(), srv.Addr) {
		t.Fatalf("Connect to a stopped server: %v; want an error naming it", err)
	}
}
