package storetest

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"authserver/store"
	"authserver/tokens"
)

const racers = 100

type raceResult struct {
	r   tokens.Rotation
	f   tokens.Family
	err error
}

// race has racers goroutines present the same token of f at once, each with a
// Next and NextJTI of its own, and returns what each one got.
func race(t *testing.T, b store.Backend, f tokens.Family, presented []byte, grace time.Duration) []raceResult {
	t.Helper()
	ctx := t.Context()
	res := make([]raceResult, racers)
	now := time.Now()
	for i := range res {
		res[i].r = rotation(f, presented, now)
		res[i].r.Grace = grace
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range res {
		wg.Go(func() {
			<-start
			res[i].f, res[i].err = b.RotateRefresh(ctx, res[i].r)
		})
	}
	close(start)
	wg.Wait()
	return res
}

// checkOneWinner asserts the outcome of a race without grace over a family at
// generation gen: exactly one rotation won; every other one saw reuse (and
// revoked the family) or found it revoked already; the family is left revoked
// at the winner's generation with the winner's jti.
func checkOneWinner(t *testing.T, b store.Backend, f tokens.Family, res []raceResult) {
	t.Helper()
	var winners, reuse, revoked int
	var win raceResult
	for _, x := range res {
		switch {
		case x.err == nil:
			winners++
			win = x
		case errors.Is(x.err, tokens.ErrReuse):
			reuse++
		case errors.Is(x.err, tokens.ErrFamilyRevoked):
			revoked++
		default:
			t.Fatalf("racing RotateRefresh: unexpected error %v", x.err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d rotations of one token succeeded, want exactly 1 (reuse %d, revoked %d)", winners, reuse, revoked)
	}
	// The first loser to run detects the reuse; later ones may find the
	// family revoked by it.
	if reuse == 0 {
		t.Fatalf("no loser reported reuse (revoked %d)", revoked)
	}
	if win.f.Generation != f.Generation+1 || win.f.LastJTI != win.r.NextJTI {
		t.Fatalf("winner got %+v, want generation %d and its own jti %q", win.f, f.Generation+1, win.r.NextJTI)
	}
	got := getFamily(t, b, f.ID)
	if !got.Revoked || got.Generation != f.Generation+1 || got.LastJTI != win.r.NextJTI {
		t.Fatalf("after the race: %+v, want revoked at generation %d with the winner's jti %q",
			got, f.Generation+1, win.r.NextJTI)
	}
	wantRotateErr(t, b, rotation(f, win.r.Next, time.Now()), tokens.ErrFamilyRevoked)
}

func testRefreshRace(t *testing.T, b store.Backend) {
	// One token presented by 100 callers at once, as a stolen token and its
	// owner (or a buggy client) might: exactly one rotation wins and the rest
	// are reuse, which revokes the family.
	t.Run("OneWinner", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, nil)
		checkOneWinner(t, b, f, race(t, b, f, tok, 0))
	})

	// The same, twenty times over, each time on a fresh family that has
	// already been rotated a few times (so a previous token and a later
	// generation are in play): one winner every time, never two, never none.
	t.Run("OneWinnerSteps", func(t *testing.T) {
		t.Parallel()
		for step := range 20 {
			f, tok := makeFamily(t, b, nil)
			now := time.Now()
			for range step % 4 {
				r := rotation(f, tok, now)
				f = rotateOK(t, b, f, r)
				tok = r.Next
			}
			checkOneWinner(t, b, f, race(t, b, f, tok, 0))
		}
	})

	// With a grace window every caller but the first presents the previous
	// token within the window, which is a retry, so all of them succeed. The
	// rotations must still be serial: each sees a generation of its own, the
	// family ends at the last one, and only the last Next is current.
	t.Run("GraceSerialises", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, nil)
		res := race(t, b, f, tok, time.Minute)
		byGen := map[int64]raceResult{}
		for _, x := range res {
			if x.err != nil {
				t.Fatalf("racing RotateRefresh with grace: %v", x.err)
			}
			if x.f.LastJTI != x.r.NextJTI {
				t.Fatalf("rotation returned jti %q, want its own %q", x.f.LastJTI, x.r.NextJTI)
			}
			if prev, dup := byGen[x.f.Generation]; dup {
				t.Fatalf("two rotations both produced generation %d (%q and %q): a lost update",
					x.f.Generation, prev.r.NextJTI, x.r.NextJTI)
			}
			byGen[x.f.Generation] = x
		}
		gens := slices.Sorted(maps.Keys(byGen))
		if gens[0] != 1 || gens[len(gens)-1] != racers {
			t.Fatalf("generations %d..%d, want 1..%d", gens[0], gens[len(gens)-1], racers)
		}
		last := byGen[racers]
		got := getFamily(t, b, f.ID)
		if got.Revoked || got.Generation != racers || got.LastJTI != last.r.NextJTI {
			t.Fatalf("after the race: %+v, want live at generation %d with jti %q", got, racers, last.r.NextJTI)
		}
		// Only the last rotation's token is current.
		next := rotation(f, last.r.Next, time.Now())
		next.Grace = time.Minute
		got, err := b.RotateRefresh(t.Context(), next)
		if err != nil || got.Generation != racers+1 {
			t.Fatalf("rotating the last token: %+v, %v; want generation %d", got, err, racers+1)
		}
		stale := rotation(f, byGen[racers/2].r.Next, time.Now())
		stale.Grace = time.Minute
		wantRotateErr(t, b, stale, tokens.ErrReuse)
	})
}
