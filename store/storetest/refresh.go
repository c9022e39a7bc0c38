package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"authserver/store"
	"authserver/tokens"
)

const idle = time.Hour

// makeFamily stores a new family (one day absolute, one hour idle) after
// letting mod adjust it, and returns it with the hash of its first token.
func makeFamily(t *testing.T, b store.Backend, mod func(*tokens.Family)) (tokens.Family, []byte) {
	t.Helper()
	now := ms(time.Now())
	f := tokens.Family{
		ID:            randID("fam"),
		ClientID:      randID("client"),
		UserID:        randID("user"),
		Scope:         "openid offline_access",
		AuthTime:      now.Add(-time.Minute),
		CreatedAt:     now,
		ExpiresAt:     now.Add(24 * time.Hour),
		IdleExpiresAt: now.Add(idle),
		LastJTI:       randID("jti"),
		// Kept as given: the Revoker compares them with the user's and
		// client's current generations.
		UserGeneration:   3,
		ClientGeneration: 7,
		JKT:              "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	}
	if mod != nil {
		mod(&f)
	}
	tok := hashOf()
	if err := b.CreateFamily(t.Context(), f, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	return f, tok
}

// rotation asks to rotate presented, a token of f's current generation, at
// now as the family's own client, with a fresh successor and jti and no
// grace. (A real successor is a function of the presented token: tests that
// present a token again set Next to the successor it had.)
func rotation(f tokens.Family, presented []byte, now time.Time) tokens.Rotation {
	return tokens.Rotation{
		FamilyID:   f.ID,
		ClientID:   f.ClientID,
		Presented:  presented,
		Generation: f.Generation,
		Next:       hashOf(),
		NextJTI:    randID("jti"),
		Now:        ms(now),
		Idle:       idle,
	}
}

// retry is r presented again at now within a grace window: the same token,
// the same successor.
func retry(r tokens.Rotation, now time.Time, grace time.Duration) tokens.Rotation {
	r.Now, r.Grace = ms(now), grace
	return r
}

// rotateOK performs r, which must rotate, and checks the family it returns
// against want moved on by one rotation.
func rotateOK(t *testing.T, b store.Backend, want tokens.Family, r tokens.Rotation) tokens.Family {
	t.Helper()
	return rotateAs(t, b, want, r, tokens.Rotated)
}

// rotateAs performs r, which must succeed with outcome, and checks the
// family against want moved on by r.
func rotateAs(t *testing.T, b store.Backend, want tokens.Family, r tokens.Rotation, outcome tokens.RotateOutcome) tokens.Family {
	t.Helper()
	got, o, err := b.RotateRefresh(t.Context(), r)
	if err != nil {
		t.Fatalf("RotateRefresh (generation %d, presented %d): %v", want.Generation, r.Generation, err)
	}
	if o != outcome {
		t.Fatalf("RotateRefresh outcome %v, want %v", o, outcome)
	}
	want.Generation = r.Generation + 1
	want.RotatedAt = r.Now
	want.LastJTI = r.NextJTI
	want.IdleExpiresAt = r.Now.Add(r.Idle)
	if want.IdleExpiresAt.After(want.ExpiresAt) {
		want.IdleExpiresAt = want.ExpiresAt
	}
	checkFamily(t, got, want)
	return got
}

// retriedOK performs r, which must be a retry: the family comes back as it
// was, and stays so.
func retriedOK(t *testing.T, b store.Backend, want tokens.Family, r tokens.Rotation) {
	t.Helper()
	got, o, err := b.RotateRefresh(t.Context(), r)
	if err != nil || o != tokens.Retried {
		t.Fatalf("retry of generation %d: outcome %v, %v; want retried", r.Generation, o, err)
	}
	checkFamily(t, got, want)
	checkFamily(t, getFamily(t, b, want.ID), want)
}

func checkFamily(t *testing.T, got, want tokens.Family) {
	t.Helper()
	if got.ID != want.ID || got.ClientID != want.ClientID || got.UserID != want.UserID ||
		got.Scope != want.Scope || !sameTime(got.AuthTime, want.AuthTime) ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) ||
		!sameTime(got.IdleExpiresAt, want.IdleExpiresAt) || got.Generation != want.Generation ||
		!sameTime(got.RotatedAt, want.RotatedAt) ||
		got.LastJTI != want.LastJTI || got.Revoked != want.Revoked ||
		got.UserGeneration != want.UserGeneration || got.ClientGeneration != want.ClientGeneration ||
		got.JKT != want.JKT {
		t.Fatalf("family:\n got  %+v\n want %+v", got, want)
	}
}

func getFamily(t *testing.T, b store.Backend, id string) tokens.Family {
	t.Helper()
	f, err := b.GetFamily(t.Context(), id)
	if err != nil {
		t.Fatalf("GetFamily(%s): %v", id, err)
	}
	return f
}

func wantRotateErr(t *testing.T, b store.Backend, r tokens.Rotation, want error) tokens.Family {
	t.Helper()
	f, _, err := b.RotateRefresh(t.Context(), r)
	if !errors.Is(err, want) {
		t.Fatalf("RotateRefresh: got %v, want %v", err, want)
	}
	return f
}

func listedIDs(t *testing.T, b store.Backend, userID string) []string {
	t.Helper()
	fams, err := b.ListUserFamilies(t.Context(), userID)
	if err != nil {
		t.Fatalf("ListUserFamilies: %v", err)
	}
	var ids []string
	for _, f := range fams {
		if f.UserID != userID {
			t.Fatalf("ListUserFamilies(%s) returned another user's family %+v", userID, f)
		}
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}

func testRefresh(t *testing.T, b store.Backend) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		f, _ := makeFamily(t, b, nil)
		checkFamily(t, getFamily(t, b, f.ID), f)
		if _, err := b.GetFamily(t.Context(), randID("fam")); !errors.Is(err, tokens.ErrFamilyNotFound) {
			t.Fatalf("GetFamily(missing): got %v, want ErrFamilyNotFound", err)
		}
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, nil)
		other := f
		other.ClientID = randID("client")
		other.UserID = randID("user")
		if err := b.CreateFamily(t.Context(), other, hashOf()); !errors.Is(err, tokens.ErrFamilyExists) {
			t.Fatalf("CreateFamily with a taken ID: got %v, want ErrFamilyExists", err)
		}
		checkFamily(t, getFamily(t, b, f.ID), f)
		rotateOK(t, b, f, rotation(f, tok, time.Now()))
	})

	t.Run("RotateChain", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, nil)
		now := time.Now()
		for i := range 3 {
			r := rotation(f, tok, now.Add(time.Duration(i)*time.Minute))
			f = rotateOK(t, b, f, r)
			checkFamily(t, getFamily(t, b, f.ID), f)
			tok = r.Next
		}
		if f.Generation != 3 {
			t.Fatalf("generation after three rotations: %d", f.Generation)
		}
	})

	t.Run("IdleCappedByExpiry", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, func(f *tokens.Family) {
			f.ExpiresAt = f.CreatedAt.Add(10 * time.Minute)
			f.IdleExpiresAt = f.ExpiresAt
		})
		got := rotateOK(t, b, f, rotation(f, tok, time.Now())) // now+idle is past ExpiresAt
		if !sameTime(got.IdleExpiresAt, f.ExpiresAt) {
			t.Fatalf("IdleExpiresAt %v, want capped at ExpiresAt %v", got.IdleExpiresAt, f.ExpiresAt)
		}
	})

	t.Run("ReuseRevokes", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r1 := rotation(f, t0, now)
		f = rotateOK(t, b, f, r1)

		// The consumed token again: reuse; the family is revoked by this call.
		got := wantRotateErr(t, b, retry(r1, now.Add(time.Second), 0), tokens.ErrReuse)
		f.Revoked = true
		checkFamily(t, got, f)
		checkFamily(t, getFamily(t, b, f.ID), f)
		if ids := listedIDs(t, b, f.UserID); len(ids) != 0 {
			t.Fatalf("revoked family still listed: %v", ids)
		}
		// Even the newest token is dead now, and nothing moves.
		wantRotateErr(t, b, rotation(f, r1.Next, now.Add(2*time.Second)), tokens.ErrFamilyRevoked)
		checkFamily(t, getFamily(t, b, f.ID), f)
	})

	t.Run("UnknownTokenRevokes", func(t *testing.T) {
		t.Parallel()
		f, _ := makeFamily(t, b, nil)
		r := rotation(f, hashOf(), time.Now())
		r.Grace = time.Minute
		wantRotateErr(t, b, r, tokens.ErrReuse)
		if got := getFamily(t, b, f.ID); !got.Revoked || got.Generation != 0 {
			t.Fatalf("after reuse: %+v, want revoked at generation 0", got)
		}
	})

	// A lost answer: the client presents the token it still holds, and gets
	// the successor the first request made, as often as it retries within
	// the window; the chain then goes on from that successor.
	t.Run("RetryIsIdempotent", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r1 := rotation(f, t0, now)
		f = rotateOK(t, b, f, r1)
		for _, after := range []time.Duration{time.Second, 30 * time.Second, 59 * time.Second} {
			retriedOK(t, b, f, retry(r1, now.Add(after), time.Minute))
		}
		r2 := rotation(f, r1.Next, now.Add(time.Minute))
		f = rotateOK(t, b, f, r2)
		checkFamily(t, getFamily(t, b, f.ID), f)
	})

	// A retry carrying another successor is not a retry: the presented
	// token's successor is fixed, so this is not the server's own token.
	t.Run("RetryWithOtherSuccessorRevokes", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r1 := rotation(f, t0, now)
		f = rotateOK(t, b, f, r1)
		other := retry(r1, now.Add(time.Second), time.Minute)
		other.Next = hashOf()
		wantRotateErr(t, b, other, tokens.ErrReuse)
		if !getFamily(t, b, f.ID).Revoked {
			t.Fatal("family not revoked")
		}
	})

	t.Run("RetryAfterGraceRevokes", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r1 := rotation(f, t0, now)
		f = rotateOK(t, b, f, r1)
		retriedOK(t, b, f, retry(r1, now.Add(40*time.Second), time.Minute))
		// Retries do not move the window: it runs from the rotation.
		wantRotateErr(t, b, retry(r1, now.Add(70*time.Second), time.Minute), tokens.ErrReuse)
		if got := getFamily(t, b, f.ID); !got.Revoked || got.Generation != 1 {
			t.Fatalf("after late retry: %+v, want revoked at generation 1", got)
		}
	})

	// Once the successor has been used, the token before it is reuse even
	// inside the window: it is no longer the one answer that may be lost.
	t.Run("RetryAfterSuccessorUsedRevokes", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r1 := rotation(f, t0, now)
		f = rotateOK(t, b, f, r1)
		r2 := rotation(f, r1.Next, now.Add(time.Second))
		f = rotateOK(t, b, f, r2)
		wantRotateErr(t, b, retry(r1, now.Add(2*time.Second), time.Minute), tokens.ErrReuse)
		if !getFamily(t, b, f.ID).Revoked {
			t.Fatal("family not revoked")
		}
	})

	t.Run("NoGraceRejectsRetry", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r1 := rotation(f, t0, now)
		rotateOK(t, b, f, r1)
		wantRotateErr(t, b, retry(r1, now.Add(time.Millisecond), 0), tokens.ErrReuse)
	})

	// The store lost the rotations that made the presented token (a
	// failover behind an acknowledged answer): a token of a later
	// generation than the store's is the head of the chain, not reuse.
	t.Run("NewerTokenRecovers", func(t *testing.T) {
		t.Parallel()
		for _, lost := range []int64{1, 3} {
			f, t0 := makeFamily(t, b, nil)
			now := time.Now()
			f = rotateOK(t, b, f, rotation(f, t0, now)) // generation 1 stored
			head := rotation(f, hashOf(), now.Add(time.Second))
			head.Generation = f.Generation + lost
			f = rotateAs(t, b, f, head, tokens.Recovered)
			if f.Generation != 2+lost {
				t.Fatalf("generation after recovery: %d, want %d", f.Generation, 2+lost)
			}
			// The recovered successor is current; a token of the generation
			// the store had is now reuse.
			f = rotateOK(t, b, f, rotation(f, head.Next, now.Add(2*time.Second)))
			stale := rotation(f, hashOf(), now.Add(3*time.Second))
			stale.Generation = 1
			wantRotateErr(t, b, stale, tokens.ErrReuse)
		}
	})

	t.Run("SameGenerationUnknownTokenRevokes", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		f = rotateOK(t, b, f, rotation(f, t0, time.Now()))
		wantRotateErr(t, b, rotation(f, hashOf(), time.Now()), tokens.ErrReuse) // generation 1, not current
	})

	t.Run("NewerTokenOfRevokedFamily", func(t *testing.T) {
		t.Parallel()
		f, _ := makeFamily(t, b, nil)
		if _, err := b.RevokeFamily(t.Context(), f.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		r := rotation(f, hashOf(), time.Now())
		r.Generation = 5
		wantRotateErr(t, b, r, tokens.ErrFamilyRevoked)
		r.ClientID = randID("client")
		wantRotateErr(t, b, r, tokens.ErrClientMismatch)
	})

	t.Run("ClientMismatch", func(t *testing.T) {
		t.Parallel()
		f, tok := makeFamily(t, b, nil)
		now := time.Now()
		for _, presented := range [][]byte{tok, hashOf()} {
			r := rotation(f, presented, now)
			r.ClientID = randID("client")
			r.Grace = time.Minute
			wantRotateErr(t, b, r, tokens.ErrClientMismatch)
			// Nothing changed: another client can neither rotate nor revoke.
			checkFamily(t, getFamily(t, b, f.ID), f)
		}
		rotateOK(t, b, f, rotation(f, tok, now))
	})

	t.Run("IdleExpiry", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		r := rotation(f, t0, f.IdleExpiresAt.Add(time.Second))
		wantRotateErr(t, b, r, tokens.ErrFamilyNotFound)

		// Each rotation moves the idle deadline on.
		g, u0 := makeFamily(t, b, nil)
		r1 := rotation(g, u0, g.CreatedAt.Add(idle-time.Minute))
		g = rotateOK(t, b, g, r1)
		r2 := rotation(g, r1.Next, g.CreatedAt.Add(idle+time.Minute)) // past the first deadline only
		g = rotateOK(t, b, g, r2)
		r3 := rotation(g, r2.Next, g.IdleExpiresAt.Add(time.Second))
		wantRotateErr(t, b, r3, tokens.ErrFamilyNotFound)
	})

	t.Run("AbsoluteExpiry", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, func(f *tokens.Family) {
			f.ExpiresAt = f.CreatedAt.Add(90 * time.Minute)
		})
		r1 := rotation(f, t0, f.CreatedAt.Add(50*time.Minute))
		f = rotateOK(t, b, f, r1) // idle deadline now capped at ExpiresAt
		r2 := rotation(f, r1.Next, f.ExpiresAt.Add(time.Second))
		wantRotateErr(t, b, r2, tokens.ErrFamilyNotFound)
	})

	t.Run("RevokeFamily", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		f, tok := makeFamily(t, b, nil)
		got, err := b.RevokeFamily(ctx, f.ID, time.Minute)
		if err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		f.Revoked = true
		checkFamily(t, got, f) // LastJTI comes back so its access token can be denied
		checkFamily(t, getFamily(t, b, f.ID), f)
		wantRotateErr(t, b, rotation(f, tok, time.Now()), tokens.ErrFamilyRevoked)
		checkFamily(t, getFamily(t, b, f.ID), f)
		if ids := listedIDs(t, b, f.UserID); len(ids) != 0 {
			t.Fatalf("revoked family still listed: %v", ids)
		}
		// Revoking again is not an error and changes nothing.
		got, err = b.RevokeFamily(ctx, f.ID, time.Minute)
		if err != nil {
			t.Fatalf("second RevokeFamily: %v", err)
		}
		checkFamily(t, got, f)
		if err := b.CreateFamily(ctx, f, hashOf()); !errors.Is(err, tokens.ErrFamilyExists) {
			t.Fatalf("CreateFamily over a revoked family: got %v, want ErrFamilyExists", err)
		}
	})

	t.Run("RevokeAheadOfCreate", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		id := randID("fam")
		if _, err := b.RevokeFamily(ctx, id, time.Minute); !errors.Is(err, tokens.ErrFamilyNotFound) {
			t.Fatalf("RevokeFamily(missing): got %v, want ErrFamilyNotFound", err)
		}
		// A tombstone is not a family.
		if _, err := b.GetFamily(ctx, id); !errors.Is(err, tokens.ErrFamilyNotFound) {
			t.Fatalf("GetFamily(tombstone): got %v, want ErrFamilyNotFound", err)
		}
		if _, err := b.RevokeFamily(ctx, id, time.Minute); !errors.Is(err, tokens.ErrFamilyNotFound) {
			t.Fatalf("RevokeFamily(tombstone): got %v, want ErrFamilyNotFound", err)
		}
		now := ms(time.Now())
		f := tokens.Family{ID: id, ClientID: randID("client"), UserID: randID("user"),
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}
		if err := b.CreateFamily(ctx, f, hashOf()); !errors.Is(err, tokens.ErrFamilyExists) {
			t.Fatalf("CreateFamily after RevokeFamily: got %v, want ErrFamilyExists", err)
		}
		wantRotateErr(t, b, rotation(f, hashOf(), time.Now()), tokens.ErrFamilyNotFound)
		if ids := listedIDs(t, b, f.UserID); len(ids) != 0 {
			t.Fatalf("tombstoned family listed: %v", ids)
		}
	})

	t.Run("ListUserFamilies", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		user := randID("user")
		client := randID("client")
		mine := func(f *tokens.Family) { f.UserID = user; f.ClientID = client }
		// Two devices with the same client, and one with another client: each
		// sign-in is a family of its own and none logs the others out.
		phone, phoneTok := makeFamily(t, b, mine)
		laptop, _ := makeFamily(t, b, mine)
		other, _ := makeFamily(t, b, func(f *tokens.Family) { f.UserID = user })
		revoked, _ := makeFamily(t, b, mine)
		makeFamily(t, b, func(f *tokens.Family) { // expired before it was listed
			mine(f)
			f.ExpiresAt = f.CreatedAt.Add(-time.Second)
			f.IdleExpiresAt = f.ExpiresAt
		})
		someoneElse, _ := makeFamily(t, b, func(f *tokens.Family) { f.ClientID = client })

		phone = rotateOK(t, b, phone, rotation(phone, phoneTok, time.Now()))
		if _, err := b.RevokeFamily(ctx, revoked.ID, time.Minute); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}

		fams, err := b.ListUserFamilies(ctx, user)
		if err != nil {
			t.Fatalf("ListUserFamilies: %v", err)
		}
		want := map[string]tokens.Family{phone.ID: phone, laptop.ID: laptop, other.ID: other}
		if len(fams) != len(want) {
			t.Fatalf("ListUserFamilies: got %d families %+v, want %v", len(fams), fams, sortedIDs(phone, laptop, other))
		}
		for _, f := range fams {
			w, ok := want[f.ID]
			if !ok {
				t.Fatalf("ListUserFamilies returned %+v, which is not live or not the user's", f)
			}
			checkFamily(t, f, w) // the rotated one with its new generation
			delete(want, f.ID)
		}
		if ids := listedIDs(t, b, someoneElse.UserID); !slices.Equal(ids, sortedIDs(someoneElse)) {
			t.Fatalf("other user's families = %v", ids)
		}
		if ids := listedIDs(t, b, randID("user")); len(ids) != 0 {
			t.Fatalf("unknown user has families: %v", ids)
		}
	})

	t.Run("ListClientFamilies", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		client := randID("client")
		mine := func(f *tokens.Family) { f.ClientID = client }
		// Two users of the client, and one family of each kind that must
		// not be listed: revoked, expired, another client's.
		alice, aliceTok := makeFamily(t, b, mine)
		bob, _ := makeFamily(t, b, mine)
		revoked, _ := makeFamily(t, b, mine)
		makeFamily(t, b, func(f *tokens.Family) {
			mine(f)
			f.ExpiresAt = f.CreatedAt.Add(-time.Second)
			f.IdleExpiresAt = f.ExpiresAt
		})
		other, _ := makeFamily(t, b, func(f *tokens.Family) { f.UserID = alice.UserID })
		alice = rotateOK(t, b, alice, rotation(alice, aliceTok, time.Now()))
		if _, err := b.RevokeFamily(ctx, revoked.ID, time.Minute); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		fams, err := b.ListClientFamilies(ctx, client)
		if err != nil {
			t.Fatalf("ListClientFamilies: %v", err)
		}
		want := map[string]tokens.Family{alice.ID: alice, bob.ID: bob}
		if len(fams) != len(want) {
			t.Fatalf("ListClientFamilies: got %d families %+v, want %v", len(fams), fams, sortedIDs(alice, bob))
		}
		for _, f := range fams {
			w, ok := want[f.ID]
			if !ok {
				t.Fatalf("ListClientFamilies returned %+v, which is not live or not the client's", f)
			}
			checkFamily(t, f, w)
		}
		if fams, err := b.ListClientFamilies(ctx, other.ClientID); err != nil || len(fams) != 1 || fams[0].ID != other.ID {
			t.Fatalf("other client's families = %+v, %v", fams, err)
		}
		if fams, err := b.ListClientFamilies(ctx, randID("client")); err != nil || len(fams) != 0 {
			t.Fatalf("unknown client has families: %+v, %v", fams, err)
		}
	})
}

func sortedIDs(fams ...tokens.Family) []string {
	var ids []string
	for _, f := range fams {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}
