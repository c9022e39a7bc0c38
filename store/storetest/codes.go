package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"authserver/store"
	"authserver/tokens"
)

func newCode(expires time.Time) tokens.Code {
	return tokens.Code{
		ClientID:      randID("client"),
		UserID:        randID("user"),
		RedirectURI:   "https://app.example/cb",
		Scope:         "openid profile",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		AuthTime:      ms(time.Now().Add(-time.Minute)),
		Nonce:         "n-0S6_WzA2Mj \"exactly\" ☃",
		ExpiresAt:     ms(expires),
		FamilyID:      randID("fam"),
		// Kept as given (compared at redemption with the current ones).
		UserGeneration:   2,
		ClientGeneration: 5,
		DPoPJKT:          "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
	}
}

func checkCode(t *testing.T, got, want tokens.Code) {
	t.Helper()
	if got.ClientID != want.ClientID || got.UserID != want.UserID || got.RedirectURI != want.RedirectURI ||
		got.Scope != want.Scope || got.CodeChallenge != want.CodeChallenge || got.Nonce != want.Nonce ||
		!sameTime(got.AuthTime, want.AuthTime) || !sameTime(got.ExpiresAt, want.ExpiresAt) ||
		got.FamilyID != want.FamilyID ||
		got.UserGeneration != want.UserGeneration || got.ClientGeneration != want.ClientGeneration ||
		got.DPoPJKT != want.DPoPJKT {
		t.Fatalf("code:\n got  %+v\n want %+v", got, want)
	}
}

func saveCode(t *testing.T, b store.Backend, c tokens.Code) []byte {
	t.Helper()
	h := hashOf()
	if err := b.SaveCode(t.Context(), h, c); err != nil {
		t.Fatalf("SaveCode: %v", err)
	}
	return h
}

func testCodes(t *testing.T, b store.Backend) {
	t.Run("RedeemOnce", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		c := newCode(time.Now().Add(time.Minute))
		h := saveCode(t, b, c)
		other := newCode(time.Now().Add(time.Minute))
		oh := saveCode(t, b, other)

		got, err := b.RedeemCode(ctx, h, time.Now())
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		checkCode(t, got, c)
		// A replay gets the code back, so the caller can revoke the family
		// the first redemption started.
		for range 2 {
			got, err = b.RedeemCode(ctx, h, time.Now())
			if !errors.Is(err, tokens.ErrCodeReused) {
				t.Fatalf("second RedeemCode: got %v, want ErrCodeReused", err)
			}
			checkCode(t, got, c)
		}
		got, err = b.RedeemCode(ctx, oh, time.Now())
		if err != nil {
			t.Fatalf("RedeemCode of another code: %v", err)
		}
		checkCode(t, got, other)
	})

	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		if _, err := b.RedeemCode(t.Context(), hashOf(), time.Now()); !errors.Is(err, tokens.ErrCodeNotFound) {
			t.Fatalf("RedeemCode(unknown): got %v, want ErrCodeNotFound", err)
		}
	})

	t.Run("ExpiredAtNow", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// The store decides expiry by the now it is given.
		c := newCode(time.Now().Add(time.Minute))
		h := saveCode(t, b, c)
		if _, err := b.RedeemCode(ctx, h, c.ExpiresAt.Add(time.Second)); !errors.Is(err, tokens.ErrCodeNotFound) {
			t.Fatalf("RedeemCode after ExpiresAt: got %v, want ErrCodeNotFound", err)
		}
		// A used code is remembered only until it would have expired.
		u := newCode(time.Now().Add(time.Minute))
		uh := saveCode(t, b, u)
		if _, err := b.RedeemCode(ctx, uh, time.Now()); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if _, err := b.RedeemCode(ctx, uh, u.ExpiresAt.Add(time.Second)); !errors.Is(err, tokens.ErrCodeNotFound) {
			t.Fatalf("RedeemCode of a used code after ExpiresAt: got %v, want ErrCodeNotFound", err)
		}
	})

	t.Run("ConcurrentRedeem", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		const n = 20
		c := newCode(time.Now().Add(time.Minute))
		h := saveCode(t, b, c)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			got   [n]tokens.Code
			errs  [n]error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				got[i], errs[i] = b.RedeemCode(ctx, h, time.Now())
			})
		}
		close(start)
		wg.Wait()
		var ok, reused int
		for i := range n {
			switch {
			case errs[i] == nil:
				ok++
			case errors.Is(errs[i], tokens.ErrCodeReused):
				reused++
			default:
				t.Fatalf("concurrent RedeemCode: %v", errs[i])
			}
			checkCode(t, got[i], c)
		}
		if ok != 1 || reused != n-1 {
			t.Fatalf("concurrent RedeemCode: %d succeeded and %d saw reuse; want 1 and %d", ok, reused, n-1)
		}
	})
}

func testDenyList(t *testing.T, b store.Backend) {
	t.Run("Deny", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		jti, past, other := randID("jti"), randID("jti"), randID("jti")
		if err := b.DenyJTI(ctx, jti, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("DenyJTI: %v", err)
		}
		if err := b.DenyJTI(ctx, past, time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("DenyJTI(past): %v", err)
		}
		for _, c := range []struct {
			jti  string
			want bool
		}{{jti, true}, {past, false}, {other, false}} {
			got, err := b.IsDenied(ctx, c.jti)
			if err != nil || got != c.want {
				t.Fatalf("IsDenied = %v, %v; want %v", got, err, c.want)
			}
		}
	})
}
