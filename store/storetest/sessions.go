package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"authserver/sessions"
	"authserver/store"
)

func checkSession(t *testing.T, got, want sessions.Session) {
	t.Helper()
	if got.UserID != want.UserID || !sameTime(got.AuthTime, want.AuthTime) ||
		!sameTime(got.ExpiresAt, want.ExpiresAt) || got.UserGeneration != want.UserGeneration {
		t.Fatalf("session:\n got  %+v\n want %+v", got, want)
	}
}

func newSession(expires time.Time) sessions.Session {
	return sessions.Session{UserID: randID("user"), AuthTime: ms(time.Now()), ExpiresAt: ms(expires), UserGeneration: 4}
}

func testSessions(t *testing.T, b store.Backend) {
	t.Run("SaveGetDelete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		h, oh := hashOf(), hashOf()
		s, o := newSession(time.Now().Add(time.Hour)), newSession(time.Now().Add(time.Hour))
		if err := b.SaveSession(ctx, h, s); err != nil {
			t.Fatalf("SaveSession: %v", err)
		}
		if err := b.SaveSession(ctx, oh, o); err != nil {
			t.Fatalf("SaveSession: %v", err)
		}
		got, err := b.GetSession(ctx, h)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		checkSession(t, got, s)

		// Saving again under the same hash replaces it.
		s.UserGeneration++
		if err := b.SaveSession(ctx, h, s); err != nil {
			t.Fatalf("SaveSession again: %v", err)
		}
		got, err = b.GetSession(ctx, h)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		checkSession(t, got, s)

		if err := b.DeleteSession(ctx, h); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, err := b.GetSession(ctx, h); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetSession after delete: got %v, want ErrNotFound", err)
		}
		if err := b.DeleteSession(ctx, h); err != nil {
			t.Fatalf("DeleteSession(absent): %v", err)
		}
		got, err = b.GetSession(ctx, oh)
		if err != nil {
			t.Fatalf("DeleteSession removed another session: %v", err)
		}
		checkSession(t, got, o)
		if _, err := b.GetSession(ctx, hashOf()); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetSession(unknown): got %v, want ErrNotFound", err)
		}
	})

	t.Run("ExpiredOnSave", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		past := hashOf()
		if err := b.SaveSession(ctx, past, newSession(time.Now().Add(-time.Second))); err != nil {
			t.Fatalf("SaveSession(expired): %v", err)
		}
		if _, err := b.GetSession(ctx, past); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetSession(expired): got %v, want ErrNotFound", err)
		}
	})
}

func checkConsent(t *testing.T, got, want sessions.Consent) {
	t.Helper()
	if got.UserID != want.UserID || got.ClientID != want.ClientID ||
		!slices.Equal(got.Scopes, want.Scopes) || !sameTime(got.GrantedAt, want.GrantedAt) {
		t.Fatalf("consent:\n got  %+v\n want %+v", got, want)
	}
}

func testConsents(t *testing.T, b store.Backend) {
	t.Run("SaveReplaceDelete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		user, client := randID("user"), randID("client")
		c := sessions.Consent{UserID: user, ClientID: client, Scopes: []string{"openid", "profile"}, GrantedAt: ms(time.Now())}
		if _, err := b.GetConsent(ctx, user, client); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetConsent(none): got %v, want ErrNotFound", err)
		}
		if err := b.SaveConsent(ctx, c); err != nil {
			t.Fatalf("SaveConsent: %v", err)
		}
		got, err := b.GetConsent(ctx, user, client)
		if err != nil {
			t.Fatalf("GetConsent: %v", err)
		}
		checkConsent(t, got, c)

		// The same user with another client, and another user with this
		// client, are separate consents.
		if _, err := b.GetConsent(ctx, user, randID("client")); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetConsent(other client): got %v, want ErrNotFound", err)
		}
		if _, err := b.GetConsent(ctx, randID("user"), client); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetConsent(other user): got %v, want ErrNotFound", err)
		}

		r := sessions.Consent{UserID: user, ClientID: client, Scopes: []string{"email"}, GrantedAt: ms(time.Now().Add(time.Minute))}
		if err := b.SaveConsent(ctx, r); err != nil {
			t.Fatalf("SaveConsent (replace): %v", err)
		}
		got, err = b.GetConsent(ctx, user, client)
		if err != nil {
			t.Fatalf("GetConsent: %v", err)
		}
		checkConsent(t, got, r)

		if err := b.DeleteConsent(ctx, user, client); err != nil {
			t.Fatalf("DeleteConsent: %v", err)
		}
		if _, err := b.GetConsent(ctx, user, client); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("GetConsent after delete: got %v, want ErrNotFound", err)
		}
		if err := b.DeleteConsent(ctx, user, client); err != nil {
			t.Fatalf("DeleteConsent(absent): %v", err)
		}
	})

	t.Run("KeysDoNotCollide", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// ("p:a", "b") and ("p", "a:b") would share a key joined naively.
		p := randID("u")
		one := sessions.Consent{UserID: p + ":a", ClientID: "b", Scopes: []string{"one"}, GrantedAt: ms(time.Now())}
		two := sessions.Consent{UserID: p, ClientID: "a:b", Scopes: []string{"two"}, GrantedAt: ms(time.Now())}
		for _, c := range []sessions.Consent{one, two} {
			if err := b.SaveConsent(ctx, c); err != nil {
				t.Fatalf("SaveConsent: %v", err)
			}
		}
		for _, c := range []sessions.Consent{one, two} {
			got, err := b.GetConsent(ctx, c.UserID, c.ClientID)
			if err != nil {
				t.Fatalf("GetConsent: %v", err)
			}
			checkConsent(t, got, c)
		}
		if err := b.DeleteConsent(ctx, one.UserID, one.ClientID); err != nil {
			t.Fatalf("DeleteConsent: %v", err)
		}
		if _, err := b.GetConsent(ctx, two.UserID, two.ClientID); err != nil {
			t.Fatalf("deleting one consent removed another: %v", err)
		}
	})
}
