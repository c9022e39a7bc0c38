package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"authserver/clients"
	"authserver/sessions"
	"authserver/store"
)

// flakySessions is a session store that reports an outage while down is set.
type flakySessions struct {
	sessions.Store
	down *atomic.Bool
}

func (f flakySessions) GetSession(ctx context.Context, hash []byte) (sessions.Session, error) {
	if f.down.Load() {
		return sessions.Session{}, store.Unavailable(errors.New("connection refused"))
	}
	return f.Store.GetSession(ctx, hash)
}

// TestAuthorizeStoreOutage: once the client and its redirect URI are
// validated, a store outage goes back to the client as
// error=temporarily_unavailable (RFC 6749 §4.1.2.1) with Retry-After; a
// plain failure stays the 500 page.
func TestAuthorizeStoreOutage(t *testing.T) {
	var down atomic.Bool
	s := newStack(t, func(c *stackConfig) {
		c.sessions = func(st sessions.Store) sessions.Store { return flakySessions{st, &down} }
	})
	id, _ := s.app(t, clients.Registration{FirstParty: true})
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	p := b.signIn(b.get(s.authURL(id)), s.srv.URL, "alice", "alice's long password")
	if p.location(t).Query().Get("code") == "" {
		t.Fatalf("sign-in: %d %s", p.status, p.body)
	}

	down.Store(true)
	p = b.get(s.authURL(id))
	wantRedirectError(t, s, p, "temporarily_unavailable")
	if p.header.Get("Retry-After") == "" {
		t.Error("no Retry-After on the outage redirect")
	}
	down.Store(false)
	if b.get(s.authURL(id)).location(t).Query().Get("code") == "" {
		t.Fatal("no code once the store is back")
	}
}

// TestAuthorizeStoreOutageBeforeValidation: a client that cannot be looked
// up gets the error page with 503, never a redirect to an unchecked URI.
func TestAuthorizeStoreOutageBeforeValidation(t *testing.T) {
	s := newStack(t)
	id, _ := s.app(t, clients.Registration{FirstParty: true})
	s.store.Close()
	resp, err := http.Get(s.authURL(id)) // not browser.get, which fails on any 5xx
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	if p.status != http.StatusServiceUnavailable || p.header.Get("Location") != "" || p.header.Get("Retry-After") == "" ||
		!strings.Contains(p.body, "temporarily unavailable") {
		t.Fatalf("authorize with the store closed: %d Location %q Retry-After %q", p.status, p.header.Get("Location"), p.header.Get("Retry-After"))
	}
}
