package storetest

import (
	"errors"
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
	o   tokens.RotateOutcome
	err error
}

// race has racers goroutines present the same token of f at once, each with a
// Next and NextJTI of its own unless mod sets them, and returns what each
// one got.
func race(t *testing.T, b store.Backend, f tokens.Family, presented []byte, grace time.Duration, mod func(*tokens.Rotation)) []raceResult {
	t.Helper()
	ctx := t.Context()
	res := make([]raceResult, racers)
	now := time.Now()
	for i := range res {
		res[i].r = rotation(f, presented, now)
		res[i].r.Grace = grace
		if mod != nil {
			mod(&res[i].r)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range res {
		wg.Go(func() {
			<-start
			res[i].f, res[i].o, res[i].err = b.RotateRefresh(ctx, res[i].r)
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
		checkOneWinner(t, b, f, race(t, b, f, tok, 0, nil))
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
			checkOneWinner(t, b, f, race(t, b, f, tok, 0, nil))
		}
	})

	// With a grace window, callers presenting the same token at once are
	// one client retrying (a real successor is a function of the token, so
	// they carry the same Next): exactly one rotates, every other one is a
	// retry answered with that same successor, and the family moves on by
	// exactly one generation.
	t.Run("RetriesShareOneSuccessor", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, nil)
		checkOneRotation(t, b, f, race(t, b, f, tok, time.Minute, sameSuccessor()), tokens.Rotated, f.Generation+1)
	})

	// The same when the presented token is newer than the store (its
	// rotations were lost): one recovers the chain, the rest retry.
	t.Run("RecoveryRace", func(t *testing.T) {
		t.Parallel()
		f, _ := makeFamily(t, b, nil)
		shared := sameSuccessor()
		res := race(t, b, f, hashOf(), time.Minute, func(r *tokens.Rotation) {
			shared(r)
			r.Generation = 4
		})
		checkOneRotation(t, b, f, res, tokens.Recovered, 5)
	})
}

// sameSuccessor gives every rotation it is applied to one Next and NextJTI,
// as the chain does for one presented token.
func sameSuccessor() func(*tokens.Rotation) {
	next, jti := hashOf(), randID("jti")
	return func(r *tokens.Rotation) { r.Next, r.NextJTI = next, jti }
}

// checkOneRotation asserts that exactly one result had outcome first, all
// others were retries, and the family is live at generation gen with the
// shared successor current.
func checkOneRotation(t *testing.T, b store.Backend, f tokens.Family, res []raceResult, first tokens.RotateOutcome, gen int64) {
	t.Helper()
	counts := map[tokens.RotateOutcome]int{}
	for _, x := range res {
		if x.err != nil {
			t.Fatalf("racing retries: %v", x.err)
		}
		counts[x.o]++
		if x.f.Generation != gen || x.f.Revoked {
			t.Fatalf("a racer got %+v (%v), want live at generation %d", x.f, x.o, gen)
		}
	}
	if counts[first] != 1 || counts[tokens.Retried] != racers-1 {
		t.Fatalf("outcomes %v, want one %v and %d retried", counts, first, racers-1)
	}
	got := getFamily(t, b, f.ID)
	if got.Revoked || got.Generation != gen || got.LastJTI != res[0].r.NextJTI {
		t.Fatalf("after the race: %+v, want live at generation %d", got, gen)
	}
	f.Generation = gen
	next := rotation(f, res[0].r.Next, time.Now())
	if _, o, err := b.RotateRefresh(t.Context(), next); err != nil || o != tokens.Rotated {
		t.Fatalf("rotating the shared successor: %v, %v", o, err)
	}
}
