package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/sessions"
	"authserver/store"
)

// sessionClientNames lists "sid/client" of the records, sorted.
func sessionClientNames(scs []sessions.SessionClient) []string {
	var out []string
	for _, sc := range scs {
		out = append(out, sc.SessionID+"/"+sc.ClientID)
	}
	slices.Sort(out)
	return out
}

func testSessionClients(t *testing.T, b store.Backend) {
	t.Run("AddListDelete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		user, other := randID("user"), randID("user")
		later := ms(time.Now().Add(time.Hour))
		for _, sc := range []sessions.SessionClient{
			{SessionID: "s1", ClientID: "rp-a", ExpiresAt: later},
			{SessionID: "s1", ClientID: "rp-b", ExpiresAt: later},
			{SessionID: "s2", ClientID: "rp-a", ExpiresAt: later},
		} {
			if err := b.AddSessionClient(ctx, user, sc); err != nil {
				t.Fatalf("AddSessionClient: %v", err)
			}
		}
		if err := b.AddSessionClient(ctx, other, sessions.SessionClient{SessionID: "s1", ClientID: "rp-c", ExpiresAt: later}); err != nil {
			t.Fatalf("AddSessionClient: %v", err)
		}
		// Added again with an earlier end: the later one stays.
		if err := b.AddSessionClient(ctx, user, sessions.SessionClient{SessionID: "s1", ClientID: "rp-a", ExpiresAt: ms(time.Now().Add(time.Minute))}); err != nil {
			t.Fatalf("AddSessionClient again: %v", err)
		}
		got, err := b.SessionClients(ctx, user)
		if err != nil {
			t.Fatalf("SessionClients: %v", err)
		}
		if names := sessionClientNames(got); !slices.Equal(names, []string{"s1/rp-a", "s1/rp-b", "s2/rp-a"}) {
			t.Fatalf("SessionClients = %v", names)
		}
		for _, sc := range got {
			if !sameTime(sc.ExpiresAt, later) {
				t.Fatalf("%s/%s ends %v, want %v", sc.SessionID, sc.ClientID, sc.ExpiresAt, later)
			}
		}

		var s1 []sessions.SessionClient
		for _, sc := range got {
			if sc.SessionID == "s1" {
				s1 = append(s1, sc)
			}
		}
		if err := b.DeleteSessionClients(ctx, user, s1); err != nil {
			t.Fatalf("DeleteSessionClients s1: %v", err)
		}
		got, _ = b.SessionClients(ctx, user)
		if names := sessionClientNames(got); !slices.Equal(names, []string{"s2/rp-a"}) {
			t.Fatalf("after deleting s1: %v", names)
		}
		// A record added after the listing (a new sign-in) survives
		// deleting what was listed.
		listed := got
		if err := b.AddSessionClient(ctx, user, sessions.SessionClient{SessionID: "s3", ClientID: "rp-a", ExpiresAt: later}); err != nil {
			t.Fatalf("AddSessionClient: %v", err)
		}
		if err := b.DeleteSessionClients(ctx, user, listed); err != nil {
			t.Fatalf("DeleteSessionClients all: %v", err)
		}
		if got, _ = b.SessionClients(ctx, user); !slices.Equal(sessionClientNames(got), []string{"s3/rp-a"}) {
			t.Fatalf("after deleting all listed: %v, want only the record added since", sessionClientNames(got))
		}
		// The other user's record is untouched; deleting nothing is no error.
		if got, _ = b.SessionClients(ctx, other); len(got) != 1 {
			t.Fatalf("other user: %v", sessionClientNames(got))
		}
		if err := b.DeleteSessionClients(ctx, randID("user"), []sessions.SessionClient{{SessionID: "s9", ClientID: "rp"}}); err != nil {
			t.Fatalf("DeleteSessionClients of nothing: %v", err)
		}
	})
	t.Run("ExpiredNotListed", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		user := randID("user")
		if err := b.AddSessionClient(ctx, user, sessions.SessionClient{SessionID: "old", ClientID: "rp", ExpiresAt: ms(time.Now().Add(-time.Second))}); err != nil {
			t.Fatalf("AddSessionClient: %v", err)
		}
		if err := b.AddSessionClient(ctx, user, sessions.SessionClient{SessionID: "soon", ClientID: "rp", ExpiresAt: ms(time.Now().Add(300 * time.Millisecond))}); err != nil {
			t.Fatalf("AddSessionClient: %v", err)
		}
		if got, _ := b.SessionClients(ctx, user); !slices.Equal(sessionClientNames(got), []string{"soon/rp"}) {
			t.Fatalf("SessionClients = %v, want only soon/rp", sessionClientNames(got))
		}
		time.Sleep(400 * time.Millisecond)
		if got, _ := b.SessionClients(ctx, user); len(got) != 0 {
			t.Fatalf("SessionClients after the end = %v", sessionClientNames(got))
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		user := randID("user")
		base := ms(time.Now().Add(time.Hour))
		extra := 5
		for i := range sessions.MaxSessionClients + extra {
			// Record i ends i seconds after base: the first ones end first.
			sc := sessions.SessionClient{SessionID: fmt.Sprintf("s%03d", i), ClientID: "rp", ExpiresAt: base.Add(time.Duration(i) * time.Second)}
			if err := b.AddSessionClient(ctx, user, sc); err != nil {
				t.Fatalf("AddSessionClient %d: %v", i, err)
			}
		}
		got, err := b.SessionClients(ctx, user)
		if err != nil {
			t.Fatalf("SessionClients: %v", err)
		}
		if len(got) != sessions.MaxSessionClients {
			t.Fatalf("%d records kept, want %d", len(got), sessions.MaxSessionClients)
		}
		names := sessionClientNames(got)
		if names[0] != fmt.Sprintf("s%03d/rp", extra) {
			t.Fatalf("first kept is %s: the ones ending first should have gone", names[0])
		}
	})
	t.Run("ConcurrentAdds", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		user := randID("user")
		exp := ms(time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Go(func() {
				errs <- b.AddSessionClient(ctx, user, sessions.SessionClient{SessionID: "s", ClientID: fmt.Sprintf("rp-%02d", i), ExpiresAt: exp.Add(time.Duration(i) * time.Millisecond)})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("AddSessionClient: %v", err)
			}
		}
		got, err := b.SessionClients(ctx, user)
		if err != nil {
			t.Fatalf("SessionClients: %v", err)
		}
		if len(got) != 50 {
			t.Fatalf("%d of 50 concurrent adds kept: %s", len(got), strings.Join(sessionClientNames(got), " "))
		}
	})
}
