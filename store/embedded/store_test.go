package embedded

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/clients"
	"authserver/keys"
	"authserver/registration"
	"authserver/sessions"
	"authserver/store"
	"authserver/store/storetest"
	"authserver/tokens"
	"authserver/users"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "authserver.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		s, _ := openTemp(t)
		return s
	})
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	s, path := openTemp(t)
	if s.db.NoSync {
		t.Fatal("NoSync is on: acknowledged writes could be lost on power failure")
	}
	for p, max := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&^max != 0 {
			t.Fatalf("%s has mode %v, want at most %v", p, perm, max)
		}
	}
}

func TestSecondOpenFails(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	s, err := open(path, 200*time.Millisecond, time.Minute)
	if err == nil {
		s.Close()
		t.Fatal("a second Open of a locked file succeeded")
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open: %v, want a lock error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("second Open took %v to give up", d)
	}
}

func TestCloseTwice(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authserver.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	fam := tokens.Family{ID: "fam-1", ClientID: "app", UserID: "u1", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	code := tokens.Code{ClientID: "app", UserID: "u1", ExpiresAt: now.Add(time.Hour), FamilyID: "fam-2"}
	steps := []error{
		s.CreateClient(ctx, &clients.Client{ID: "app", Name: "App"}),
		s.CreateUser(ctx, &users.User{ID: "u1", Username: "alice", PasswordHash: "h"}),
		s.AddKey(ctx, keys.StoredKey{ID: "k1", Alg: "ES256", Public: []byte("pub"), CreatedAt: now}),
		s.CreateFamily(ctx, fam, sum("t0")),
		s.SaveCode(ctx, sum("code"), code),
		s.DenyJTI(ctx, "jti-1", now.Add(time.Hour)),
		s.SaveSession(ctx, sum("cookie"), sessions.Session{UserID: "u1", ExpiresAt: now.Add(time.Hour)}),
		s.SaveConsent(ctx, sessions.Consent{UserID: "u1", ClientID: "app", Scopes: []string{"openid"}}),
	}
	_, _, err = s.RotateRefresh(ctx, tokens.Rotation{FamilyID: "fam-1", ClientID: "app", Presented: sum("t0"),
		Next: sum("t1"), NextJTI: "jti-1", Now: now, Idle: time.Hour})
	steps = append(steps, err)
	_, err = s.RedeemCode(ctx, sum("code"), now)
	steps = append(steps, err)
	_, _, err = s.AddFailure(ctx, "login:alice", time.Hour)
	steps = append(steps, err)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if _, err := s.RevokeFamily(ctx, "fam-2", time.Hour); !errors.Is(err, tokens.ErrFamilyNotFound) {
		t.Fatalf("RevokeFamily(missing): %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if c, err := s.GetClient(ctx, "app"); err != nil || c.Name != "App" {
		t.Fatalf("client after reopen: %+v, %v", c, err)
	}
	if u, err := s.GetUserByUsername(ctx, "alice"); err != nil || u.ID != "u1" {
		t.Fatalf("user after reopen: %+v, %v", u, err)
	}
	if ks, err := s.ListKeys(ctx); err != nil || len(ks) != 1 || string(ks[0].Public) != "pub" {
		t.Fatalf("keys after reopen: %+v, %v", ks, err)
	}
	if f, err := s.GetFamily(ctx, "fam-1"); err != nil || f.Generation != 1 || f.LastJTI != "jti-1" {
		t.Fatalf("family after reopen: %+v, %v", f, err)
	}
	// The rotation itself survived: t0 is spent, t1 is current.
	if _, _, err := s.RotateRefresh(ctx, tokens.Rotation{FamilyID: "fam-1", ClientID: "app", Presented: sum("t1"), Generation: 1,
		Next: sum("t2"), NextJTI: "jti-2", Now: time.Now(), Idle: time.Hour}); err != nil {
		t.Fatalf("rotating t1 after reopen: %v", err)
	}
	if _, err := s.RedeemCode(ctx, sum("code"), time.Now()); !errors.Is(err, tokens.ErrCodeReused) {
		t.Fatalf("redeemed code after reopen: %v, want ErrCodeReused", err)
	}
	fam.ID = "fam-2"
	if err := s.CreateFamily(ctx, fam, sum("x")); !errors.Is(err, tokens.ErrFamilyExists) {
		t.Fatalf("tombstone after reopen: CreateFamily got %v, want ErrFamilyExists", err)
	}
	if ok, err := s.IsDenied(ctx, "jti-1"); err != nil || !ok {
		t.Fatalf("deny list after reopen: %v, %v", ok, err)
	}
	if _, err := s.GetSession(ctx, sum("cookie")); err != nil {
		t.Fatalf("session after reopen: %v", err)
	}
	if _, err := s.GetConsent(ctx, "u1", "app"); err != nil {
		t.Fatalf("consent after reopen: %v", err)
	}
	if _, n, _, err := s.Reserve(ctx, "login:alice", 0, time.Hour); err != nil || n != 1 {
		t.Fatalf("failures after reopen: %d, %v", n, err)
	}
}

// count returns the number of raw records in a bucket, expired or not.
func count(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// seedExpiring writes one record that expires at the given time into every
// bucket the janitor sweeps, plus an entry in the per-user family index.
func seedExpiring(t *testing.T, s *Store, tag string, at time.Time) {
	t.Helper()
	ctx := t.Context()
	errs := []error{
		s.SaveCode(ctx, sum("code"+tag), tokens.Code{ExpiresAt: at}),
		s.SaveSession(ctx, sum("session"+tag), sessions.Session{ExpiresAt: at}),
		s.CreateFamily(ctx, tokens.Family{ID: "fam" + tag, UserID: "u", CreatedAt: at.Add(-time.Hour),
			ExpiresAt: at, IdleExpiresAt: at}, sum("tok"+tag)),
		s.CreateInitialAccessToken(ctx, sum("iat"+tag), registration.InitialAccessToken{ExpiresAt: at, UsesLeft: 1}),
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Records whose deadline the API would measure from the wall clock are
	// written directly, with their expiry index entries.
	err := s.db.Update(func(tx *bolt.Tx) error {
		return errors.Join(
			putJSON(tx.Bucket(bucketDenied), []byte("jti"+tag), at),
			indexExpiry(tx, kindDenied, []byte("jti"+tag), at),
			putJSON(tx.Bucket(bucketRateLimit), []byte("rl"+tag), window{Count: 1, Until: at}),
			indexExpiry(tx, kindRateLimit, []byte("rl"+tag), at),
			putJSON(tx.Bucket(bucketFamilies), []byte("tomb"+tag), familyRecord{Tombstone: true, TombstoneUntil: at}),
			indexExpiry(tx, kindFamily, []byte("tomb"+tag), at),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var swept = [][]byte{bucketCodes, bucketSessions, bucketFamilies, bucketUserFamilies, bucketClientFamilies, bucketDenied, bucketRateLimit, bucketIATs, bucketExpiry}

func TestPurge(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Now()
	seedExpiring(t, s, "-old", now.Add(time.Hour))
	seedExpiring(t, s, "-new", now.Add(3*time.Hour))
	before := map[string]int{}
	for _, b := range swept {
		before[string(b)] = count(t, s, b)
	}
	if _, err := s.purge(now.Add(2 * time.Hour)); err != nil {
		t.Fatalf("purge: %v", err)
	}
	for _, b := range swept {
		// Each tag put the same number of records in each bucket (the
		// family bucket a family and a tombstone): half must go.
		if got, want := count(t, s, b), before[string(b)]/2; got != want || before[string(b)] == 0 {
			t.Fatalf("bucket %s after purge: %d records, want %d (of %d)", b, got, want, before[string(b)])
		}
	}
	if _, err := s.RedeemCode(t.Context(), sum("code-new"), now); err != nil {
		t.Fatalf("purge removed a live code: %v", err)
	}
	if _, err := s.GetFamily(t.Context(), "fam-new"); err != nil {
		t.Fatalf("purge removed a live family: %v", err)
	}
	if fams, err := s.ListUserFamilies(t.Context(), "u"); err != nil || len(fams) != 1 || fams[0].ID != "fam-new" {
		t.Fatalf("families of u after purge: %+v, %v", fams, err)
	}
}

func TestJanitorRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authserver.db")
	s, err := open(path, time.Second, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	seedExpiring(t, s, "-gone", time.Now().Add(-time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for count(t, s, bucketCodes)+count(t, s, bucketFamilies) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not delete expired records")
		}
		time.Sleep(20 * time.Millisecond)
	}
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the janitor")
	}
}

// A user record written before profiles existed loads with none set.
func TestUserRecordWithoutProfile(t *testing.T) {
	s, _ := openTemp(t)
	const old = `{"id":"u-old","username":"olga","password_hash":"$argon2id$x","generation":2,` +
		`"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketUsernames).Put([]byte("olga"), []byte("u-old")); err != nil {
			return err
		}
		return tx.Bucket(bucketUsers).Put([]byte("u-old"), []byte(old))
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.GetUserByUsername(t.Context(), "olga")
	if err != nil {
		t.Fatalf("GetUserByUsername: %v", err)
	}
	if u.ID != "u-old" || u.Generation != 2 || u.Profile != (users.Profile{}) || !u.GenerationStartedAt.IsZero() {
		t.Fatalf("old record loaded as %+v", u)
	}
}
