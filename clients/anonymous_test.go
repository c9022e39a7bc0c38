package clients_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/store/embedded"
)

// clock is a settable time for the registry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func anonymousRegistry(t *testing.T) (*clients.Registry, *clock) {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := clients.NewRegistry(st, []string{"profile"})
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.SetClock(clk.now)
	r.ExpireAnonymousAfter(30 * 24 * time.Hour)
	return r, clk
}

var publicApp = clients.Registration{
	Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
	RedirectURIs: []string{"http://127.0.0.1/cb"}, Scopes: []string{"profile"},
}

func TestRegisterAnonymousMustBePublic(t *testing.T) {
	r, _ := anonymousRegistry(t)
	reg := publicApp
	reg.Public = false
	if _, _, err := r.RegisterAnonymous(context.Background(), reg, clients.Metadata{}); err == nil {
		t.Fatal("a confidential client registered anonymously")
	}
}

// Unused for the TTL, an anonymous client is unknown at once (before any
// janitor runs) and listed for deletion; one that got a token within it
// lives on, counted from that token. Clients registered otherwise never
// expire.
func TestAnonymousClientsExpireWhenUnused(t *testing.T) {
	ctx := context.Background()
	r, clk := anonymousRegistry(t)
	idle, _, err := r.RegisterAnonymous(ctx, publicApp, clients.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	used, _, err := r.RegisterAnonymous(ctx, publicApp, clients.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	partner, _, _, err := r.Register(ctx, publicApp, clients.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if !idle.Anonymous || partner.Anonymous {
		t.Fatalf("anonymous marks: %v %v", idle.Anonymous, partner.Anonymous)
	}

	clk.add(20 * 24 * time.Hour)
	c, err := r.Lookup(ctx, used.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.NoteTokenIssued(ctx, c); err != nil {
		t.Fatal(err)
	}
	clk.add(10*24*time.Hour + time.Second) // idle: 30 days since registration

	if _, err := r.Lookup(ctx, idle.ID); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("an unused anonymous client past its TTL: %v", err)
	}
	for _, id := range []string{used.ID, partner.ID} {
		if _, err := r.Lookup(ctx, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	expired, err := r.ExpiredAnonymous(ctx)
	if err != nil || len(expired) != 1 || expired[0].ID != idle.ID {
		t.Fatalf("expired %v %v", expired, err)
	}
	clk.add(20 * 24 * time.Hour) // 30 days since used's token
	if _, err := r.Lookup(ctx, used.ID); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("30 days after its last token: %v", err)
	}
	if _, err := r.Lookup(ctx, partner.ID); err != nil {
		t.Fatal(err)
	}
}

// The last use is written at most once an hour, and never for clients
// that are not anonymous.
func TestNoteTokenIssuedWritesHourly(t *testing.T) {
	ctx := context.Background()
	r, clk := anonymousRegistry(t)
	c, _, err := r.RegisterAnonymous(ctx, publicApp, clients.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.NoteTokenIssued(ctx, c); err != nil {
		t.Fatal(err)
	}
	first, _ := r.Get(ctx, c.ID)
	if !first.LastUsedAt.Equal(clk.now()) {
		t.Fatalf("last use %v, want %v", first.LastUsedAt, clk.now())
	}
	clk.add(30 * time.Minute)
	if err := r.NoteTokenIssued(ctx, first); err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Get(ctx, c.ID); !again.UpdatedAt.Equal(first.UpdatedAt) || !again.LastUsedAt.Equal(first.LastUsedAt) {
		t.Fatal("a second use within the hour was written")
	}
	clk.add(31 * time.Minute)
	if err := r.NoteTokenIssued(ctx, first); err != nil {
		t.Fatal(err)
	}
	if later, _ := r.Get(ctx, c.ID); !later.LastUsedAt.Equal(clk.now()) {
		t.Fatalf("after an hour: %v", later.LastUsedAt)
	}
	partner, _, _, _ := r.Register(ctx, publicApp, clients.Metadata{})
	r.NoteTokenIssued(ctx, partner)
	if p, _ := r.Get(ctx, partner.ID); !p.LastUsedAt.IsZero() {
		t.Fatal("a non-anonymous client's use was written")
	}
}
