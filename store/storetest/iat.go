package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/registration"
	"authserver/store"
)

func createIAT(t *testing.T, b store.Backend, uses int64, exp time.Time) []byte {
	t.Helper()
	h := hashOf()
	if err := b.CreateInitialAccessToken(t.Context(), h, registration.InitialAccessToken{ExpiresAt: exp, UsesLeft: uses}); err != nil {
		t.Fatalf("CreateInitialAccessToken: %v", err)
	}
	return h
}

func wantIATInvalid(t *testing.T, b store.Backend, h []byte, now time.Time) {
	t.Helper()
	if _, err := b.LookupInitialAccessToken(t.Context(), h, now); !errors.Is(err, registration.ErrTokenInvalid) {
		t.Fatalf("LookupInitialAccessToken: got %v, want ErrTokenInvalid", err)
	}
	if _, err := b.UseInitialAccessToken(t.Context(), h, now); !errors.Is(err, registration.ErrTokenInvalid) {
		t.Fatalf("UseInitialAccessToken: got %v, want ErrTokenInvalid", err)
	}
}

func testInitialAccessTokens(t *testing.T, b store.Backend) {
	t.Run("UsesCountDown", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		now := time.Now()
		exp := ms(now.Add(time.Hour))
		h := createIAT(t, b, 3, exp)
		got, err := b.LookupInitialAccessToken(ctx, h, now)
		if err != nil || got.UsesLeft != 3 || !sameTime(got.ExpiresAt, exp) {
			t.Fatalf("Lookup: %+v, %v; want 3 uses until %v", got, err, exp)
		}
		// Looking does not spend.
		if got, _ := b.LookupInitialAccessToken(ctx, h, now); got.UsesLeft != 3 {
			t.Fatalf("second Lookup: %d uses left, want 3", got.UsesLeft)
		}
		for want := int64(2); want >= 0; want-- {
			left, err := b.UseInitialAccessToken(ctx, h, now)
			if err != nil || left != want {
				t.Fatalf("Use: %d, %v; want %d left", left, err, want)
			}
		}
		wantIATInvalid(t, b, h, now)
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		h := createIAT(t, b, 5, ms(now.Add(time.Hour)))
		// Judged by the now given, not the wall clock.
		wantIATInvalid(t, b, h, now.Add(time.Hour))
		wantIATInvalid(t, b, h, now.Add(2*time.Hour))
		if left, err := b.UseInitialAccessToken(t.Context(), h, now); err != nil || left != 4 {
			t.Fatalf("Use before expiry: %d, %v", left, err)
		}
	})

	t.Run("UnknownAndDuplicate", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		wantIATInvalid(t, b, hashOf(), time.Now())
		exp := ms(time.Now().Add(time.Hour))
		h := createIAT(t, b, 2, exp)
		err := b.CreateInitialAccessToken(ctx, h, registration.InitialAccessToken{ExpiresAt: exp.Add(time.Hour), UsesLeft: 100})
		if !errors.Is(err, registration.ErrTokenExists) {
			t.Fatalf("CreateInitialAccessToken with a taken hash: got %v, want ErrTokenExists", err)
		}
		if got, err := b.LookupInitialAccessToken(ctx, h, time.Now()); err != nil || got.UsesLeft != 2 || !sameTime(got.ExpiresAt, exp) {
			t.Fatalf("the duplicate changed the token: %+v, %v", got, err)
		}
		if err := b.CreateInitialAccessToken(ctx, hashOf(), registration.InitialAccessToken{ExpiresAt: exp, UsesLeft: 0}); err == nil {
			t.Fatal("CreateInitialAccessToken with no uses succeeded")
		}
	})

	// racers callers spend one token at once: exactly as many win as it had
	// uses, never more, whatever the interleaving.
	for _, uses := range []int64{1, 7} {
		t.Run(fmt.Sprintf("Race%dUses", uses), func(t *testing.T) {
			t.Parallel()
			h := createIAT(t, b, uses, ms(time.Now().Add(time.Hour)))
			var wins atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, racers)
			for range racers {
				wg.Go(func() {
					<-start
					_, err := b.UseInitialAccessToken(t.Context(), h, time.Now())
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, registration.ErrTokenInvalid):
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("racing UseInitialAccessToken: %v", err)
			}
			if wins.Load() != uses {
				t.Fatalf("%d of %d racers spent a token with %d uses", wins.Load(), racers, uses)
			}
			wantIATInvalid(t, b, h, time.Now())
		})
	}
}
