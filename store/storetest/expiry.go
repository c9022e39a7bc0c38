package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"authserver/sessions"
	"authserver/store"
	"authserver/tokens"
)

// expiryCase stores something that lives for shortTTL by the wall clock,
// checks it is there while it plainly should be (see liveCheck), and
// returns the check to run once it has expired.
type expiryCase struct {
	name string
	arm  func(t *testing.T, b store.Backend, start time.Time) (after func(t *testing.T))
}

// testExpiry arms every case, sleeps once for all of them, then runs the
// checks: one wait instead of one per concern keeps the suite fast.
func testExpiry(t *testing.T, b store.Backend) {
	cases := []expiryCase{
		{"RateLimitWindow", armRateLimit},
		{"Family", armFamilies},
		{"Tombstone", armTombstone},
		{"Code", armCodes},
		{"DenyList", armDenyList},
		{"Session", armSession},
	}
	start := time.Now()
	after := make([]func(t *testing.T), len(cases))
	for i, c := range cases {
		t.Run(c.name+"/Before", func(t *testing.T) {
			after[i] = c.arm(t, b, start)
		})
	}
	time.Sleep(time.Until(start.Add(expiryWait)))
	for i, c := range cases {
		if after[i] == nil {
			continue // arming failed and was reported
		}
		t.Run(c.name+"/After", after[i])
	}
}

func armRateLimit(t *testing.T, b store.Backend, start time.Time) func(t *testing.T) {
	ctx := t.Context()
	key := randID("rl")
	n, left, err := b.AddFailure(ctx, key, shortTTL)
	if err != nil || n != 1 || left <= 0 || left > shortTTL {
		t.Fatalf("AddFailure = %d, %v, %v; want 1, (0, %v], nil", n, left, err, shortTTL)
	}
	liveCheck(start, shortTTL, func() {
		if n, _, _ := peek(t, b, key); n != 1 {
			t.Fatalf("count inside the window = %d, want 1", n)
		}
	})
	return func(t *testing.T) {
		ctx := t.Context()
		n, left, err := peek(t, b, key)
		if err != nil || n != 0 || left != 0 {
			t.Fatalf("count after the window = %d, %v, %v; want 0, 0, nil", n, left, err)
		}
		// The next failure opens a new window and counts from one.
		n, left, err = b.AddFailure(ctx, key, time.Minute)
		if err != nil || n != 1 || left <= shortTTL {
			t.Fatalf("AddFailure after the window = %d, %v, %v; want 1 in a new one-minute window", n, left, err)
		}
	}
}

func armFamilies(t *testing.T, b store.Backend, start time.Time) func(t *testing.T) {
	user := randID("user")
	abs, _ := makeFamily(t, b, func(f *tokens.Family) {
		f.UserID = user
		f.ExpiresAt = ms(start.Add(shortTTL))
		f.IdleExpiresAt = f.ExpiresAt
	})
	idl, _ := makeFamily(t, b, func(f *tokens.Family) {
		f.UserID = user
		f.IdleExpiresAt = ms(start.Add(shortTTL))
	})
	revoked, _ := makeFamily(t, b, func(f *tokens.Family) {
		f.UserID = user
		f.ExpiresAt = ms(start.Add(shortTTL))
		f.IdleExpiresAt = f.ExpiresAt
	})
	_, err := b.RevokeFamily(t.Context(), revoked.ID, time.Minute)
	if err != nil && !(errors.Is(err, tokens.ErrFamilyNotFound) && time.Since(start) >= shortTTL) {
		t.Fatalf("RevokeFamily: %v", err) // not-found is right only if this machine stalled past its end
	}
	live, _ := makeFamily(t, b, func(f *tokens.Family) { f.UserID = user })
	liveCheck(start, shortTTL, func() {
		if ids, want := listedIDs(t, b, user), sortedIDs(abs, idl, live); !slices.Equal(ids, want) {
			t.Fatalf("ListUserFamilies = %v, want %v", ids, want)
		}
		if f := getFamily(t, b, revoked.ID); !f.Revoked {
			t.Fatalf("revoked family: %+v", f)
		}
	})
	return func(t *testing.T) {
		// Expired by the clock at its absolute end, at its idle end, and
		// a revoked one is kept only until it would have expired anyway.
		for _, f := range []tokens.Family{abs, idl, revoked} {
			if _, err := b.GetFamily(t.Context(), f.ID); !errors.Is(err, tokens.ErrFamilyNotFound) {
				t.Fatalf("GetFamily(expired): got %v, want ErrFamilyNotFound", err)
			}
		}
		if ids, want := listedIDs(t, b, user), sortedIDs(live); !slices.Equal(ids, want) {
			t.Fatalf("ListUserFamilies after expiry = %v, want %v", ids, want)
		}
	}
}

func armTombstone(t *testing.T, b store.Backend, start time.Time) func(t *testing.T) {
	id := randID("fam")
	if _, err := b.RevokeFamily(t.Context(), id, shortTTL); !errors.Is(err, tokens.ErrFamilyNotFound) {
		t.Fatalf("RevokeFamily(missing): got %v, want ErrFamilyNotFound", err)
	}
	return func(t *testing.T) {
		// Once the tombstone is gone the ID can be created.
		f, tok := makeFamily(t, b, func(f *tokens.Family) { f.ID = id })
		checkFamily(t, getFamily(t, b, id), f)
		rotateOK(t, b, f, rotation(f, tok, time.Now()))
	}
}

func armCodes(t *testing.T, b store.Backend, start time.Time) func(t *testing.T) {
	ctx := t.Context()
	fresh := saveCode(t, b, newCode(start.Add(shortTTL)))
	used := saveCode(t, b, newCode(start.Add(shortTTL)))
	liveCheck(start, shortTTL, func() {
		if _, err := b.RedeemCode(ctx, used, time.Now()); err != nil {
			t.Fatalf("RedeemCode before expiry: %v", err)
		}
	})
	return func(t *testing.T) {
		for _, h := range [][]byte{fresh, used} {
			if _, err := b.RedeemCode(t.Context(), h, time.Now()); !errors.Is(err, tokens.ErrCodeNotFound) {
				t.Fatalf("RedeemCode after expiry: got %v, want ErrCodeNotFound", err)
			}
		}
	}
}

func armDenyList(t *testing.T, b store.Backend, start time.Time) func(t *testing.T) {
	ctx := t.Context()
	jti := randID("jti")
	if err := b.DenyJTI(ctx, jti, start.Add(shortTTL)); err != nil {
		t.Fatalf("DenyJTI: %v", err)
	}
	liveCheck(start, shortTTL, func() {
		if got, err := b.IsDenied(ctx, jti); err != nil || !got {
			t.Fatalf("IsDenied before expiry = %v, %v; want true", got, err)
		}
	})
	return func(t *testing.T) {
		if got, err := b.IsDenied(t.Context(), jti); err != nil || got {
			t.Fatalf("IsDenied after expiry = %v, %v; want false", got, err)
		}
	}
}

func armSession(t *testing.T, b store.Backend, start time.Time) func(t *testing.T) {
	ctx := t.Context()
	h := hashOf()
	if err := b.SaveSession(ctx, h, newSession(start.Add(shortTTL))); err != nil {
		t.Fatalf("SaveSession: %v", err)
	}
	liveCheck(start, shortTTL, func() {
		if _, err := b.GetSession(ctx, h); err != nil {
			t.Fatalf("GetSession before expiry: %v", err)
		}
	})
	return func(t *testing.T) {
		if _, err := b.GetSession(t.Context(), h); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetSession after expiry: got %v, want ErrNotFound", err)
		}
	}
}
