package embedded

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/tokens"
)

// recordBatches has every janitor transaction of s reported to the test.
func recordBatches(s *Store) func() []batchReport {
	var mu sync.Mutex
	var got []batchReport
	s.afterPurgeBatch = func(b batchReport) {
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}
	return func() []batchReport {
		mu.Lock()
		defer mu.Unlock()
		return append([]batchReport(nil), got...)
	}
}

// With many live families and nothing due, a pass reads no record and
// writes nothing; with some due, it reads only those, in bounded batches.
func TestJanitorReadsOnlyWhatExpired(t *testing.T) {
	s, _ := openTemp(t)
	batches := recordBatches(s)
	now := time.Now()
	live, due := 100_000/raceScale, 2_500
	seedFamilies(t, s, live, 0, now)

	rep, err := s.purge(now)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (purgeReport{}) || len(batches()) != 0 {
		t.Fatalf("pass with nothing expired: %+v, %d write transactions; want none", rep, len(batches()))
	}

	seedFamilies(t, s, due, due, now)
	rep, err = s.purge(now)
	if err != nil {
		t.Fatal(err)
	}
	// Full batches, then one that finds the rest (or nothing) and ends the pass.
	batchesWanted := due/purgeBatchSize + 1
	if rep.Visited != due || rep.Deleted != due || rep.Batches != batchesWanted {
		t.Fatalf("pass with %d of %d expired: %+v; want %d read and deleted in %d batches", due, live+due, rep, due, batchesWanted)
	}
	for i, b := range batches() {
		if b.Entries > purgeBatchSize {
			t.Fatalf("batch %d handled %d index entries, more than %d", i, b.Entries, purgeBatchSize)
		}
	}
	if n := count(t, s, bucketFamilies); n != live {
		t.Fatalf("%d families after the pass, want the %d live ones", n, live)
	}
	if n := count(t, s, bucketExpiry); n != live {
		t.Fatalf("%d expiry index entries after the pass, want one per live family", n)
	}
}

// A rotation moves the family's entry, so the index holds one entry per
// family; a pass between the old and the new idle end keeps the family.
func TestRotationMovesExpiryEntry(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	f := tokens.Family{ID: "fam", ClientID: "app", UserID: "u", CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(time.Minute)}
	if err := s.CreateFamily(ctx, f, sum("t0")); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.RotateRefresh(ctx, tokens.Rotation{FamilyID: "fam", ClientID: "app", Presented: sum("t0"),
		Next: sum("t1"), NextJTI: "j1", Now: now, Idle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, bucketExpiry); n != 1 {
		t.Fatalf("%d index entries after a rotation, want 1", n)
	}
	if _, err := s.purge(now.Add(30 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFamily(ctx, "fam"); err != nil {
		t.Fatalf("a pass before the new idle end removed the family: %v", err)
	}
	rep, err := s.purge(now.Add(2 * time.Hour))
	if err != nil || rep.Deleted != 1 || count(t, s, bucketFamilies) != 0 || count(t, s, bucketExpiry) != 0 {
		t.Fatalf("pass after the idle end: %+v, %v; want the family and its entry gone", rep, err)
	}
}

// An entry whose record moved on or is gone is dropped without touching
// the record.
func TestJanitorDropsStaleEntries(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	seedExpiring(t, s, "-live", now.Add(time.Hour))
	err := s.db.Update(func(tx *bolt.Tx) error {
		// Stale: the live code also listed a minute ago, and a session
		// that no longer exists.
		if err := indexExpiry(tx, kindCode, sum("code-live"), now.Add(-time.Minute)); err != nil {
			return err
		}
		if err := indexExpiry(tx, kindFamily, []byte("fam-live"), now.Add(-time.Minute)); err != nil {
			return err
		}
		return indexExpiry(tx, kindSession, sum("gone"), now.Add(-time.Minute))
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.purge(now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 3 || rep.Deleted != 0 {
		t.Fatalf("pass over three stale entries: %+v; want all dropped, nothing deleted", rep)
	}
	if _, err := s.RedeemCode(ctx, sum("code-live"), now); err != nil {
		t.Fatalf("the live code behind a stale entry: %v", err)
	}
	if _, err := s.GetFamily(ctx, "fam-live"); err != nil {
		t.Fatalf("the live family behind a stale entry: %v", err)
	}
}

// A file written before the index existed is indexed once when opened.
func TestExpiryIndexBuiltForOlderFiles(t *testing.T) {
	s, path := openTemp(t)
	now := time.Now()
	seedExpiring(t, s, "-a", now.Add(time.Hour))
	// More than one build transaction's worth, ending within a day.
	seedFamilies(t, s, buildBatchSize+10, 0, now)
	want := count(t, s, bucketExpiry)
	// What a file from before the index looks like.
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketExpiry); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketMeta)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := count(t, s, bucketExpiry); got != want || want == 0 {
		t.Fatalf("rebuilt index has %d entries, want %d", got, want)
	}
	// Each entry sits at its record's deadline: nothing is due yet.
	if rep, err := s.purge(now); err != nil || rep != (purgeReport{}) {
		t.Fatalf("pass right after the rebuild: %+v, %v; want nothing due", rep, err)
	}
	if _, err := s.purge(now.Add(48 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, b := range swept {
		if n := count(t, s, b); n != 0 {
			t.Fatalf("bucket %s holds %d records after everything expired", b, n)
		}
	}
}

// Rotations issued while the janitor works through a large backlog get in
// between its batches: each waits for a batch, not for the pass.
func TestJanitorLetsWritesIn(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	const backlog = 30_000 / raceScale
	seedFamilies(t, s, backlog, backlog, now)
	f := tokens.Family{ID: "busy", ClientID: "app", UserID: "u", CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(time.Hour)}
	if err := s.CreateFamily(ctx, f, sum("t0")); err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64 // janitor batches committed so far
	s.afterPurgeBatch = func(batchReport) { done.Add(1) }

	var passDone atomic.Bool
	type wait struct {
		batches int64 // batches committed while the rotation waited
		took    time.Duration
	}
	waits := make(chan []wait, 1)
	started := make(chan struct{})
	go func() {
		var got []wait
		cur := sum("t0")
		for i := 0; !passDone.Load(); i++ {
			if i == 1 {
				close(started)
			}
			next := sum(fmt.Sprint("t", i+1))
			before, began := done.Load(), time.Now()
			_, _, err := s.RotateRefresh(ctx, tokens.Rotation{FamilyID: f.ID, ClientID: f.ClientID,
				Presented: cur, Generation: int64(i), Next: next, NextJTI: fmt.Sprint(i), Now: time.Now(), Idle: time.Hour})
			if err != nil {
				t.Error(err)
				break
			}
			got = append(got, wait{done.Load() - before, time.Since(began)})
			cur = next
		}
		waits <- got
	}()
	<-started
	rep, err := s.purge(time.Now())
	passDone.Store(true)
	if err != nil {
		t.Fatal(err)
	}
	got := <-waits
	if rep.Deleted != backlog || rep.Batches < backlog/purgeBatchSize {
		t.Fatalf("pass: %+v; want %d deleted in at least %d batches", rep, backlog, backlog/purgeBatchSize)
	}
	var during int
	var most int64
	var longest time.Duration
	for _, w := range got {
		if w.batches > 0 {
			during++
		}
		most, longest = max(most, w.batches), max(longest, w.took)
	}
	t.Logf("%d rotations during a %d-batch pass; longest wait %v, across at most %d batches", len(got), rep.Batches, longest, most)
	if during < rep.Batches/4 {
		t.Fatalf("only %d of %d rotations ran while the pass's %d batches committed: writers were shut out", during, len(got), rep.Batches)
	}
	// The janitor pauses between batches for writers that queued during
	// one, so a rotation waits for one batch; two leaves room for a slow
	// scheduler.
	if most > 2 {
		t.Fatalf("a rotation waited while %d janitor batches committed, want at most 2", most)
	}
}
