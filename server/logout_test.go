package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"authserver/clients"
)

const signedOutURI = "https://app.test/signed-out"

// logoutApp registers an OpenID client that may return users to
// signedOutURI after logout (ES256: the stack's key set holds only that).
func (s *stack) logoutApp(t *testing.T, name string) (id, secret string) {
	t.Helper()
	return s.app(t, clients.Registration{
		Name: name, Scopes: []string{"openid", "profile"}, IDTokenAlg: "ES256",
		PostLogoutRedirectURIs: []string{signedOutURI},
	})
}

// signInForIDToken signs b in as user, approves the client and returns
// the ID Token the code is exchanged for.
func (s *stack) signInForIDToken(t *testing.T, b *browser, id, secret, user, password string) string {
	t.Helper()
	base := s.srv.URL
	p := b.get(s.authURL(id, "scope", "openid"))
	if p.status == http.StatusOK && strings.Contains(p.body, `name="password"`) {
		p = b.signIn(p, base, user, password)
	}
	if strings.Contains(p.body, `value="allow"`) {
		p = b.decide(p, base, "allow")
	}
	status, tok := s.exchange(t, id, secret, p.location(t).Query().Get("code"), testVerifier)
	raw, _ := tok["id_token"].(string)
	if status != http.StatusOK || raw == "" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	return raw
}

// signedInAt reports whether b's session still stands: /authorize sends a
// code straight back instead of the sign-in page.
func (s *stack) signedInAt(t *testing.T, b *browser, id string) bool {
	t.Helper()
	p := b.get(s.authURL(id, "scope", "openid"))
	return p.status == http.StatusFound && p.location(t).Query().Get("code") != ""
}

func (s *stack) endSessionURL(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		q.Set(pairs[i], pairs[i+1])
	}
	return s.srv.URL + "/end_session?" + q.Encode()
}

// A valid hint naming the signed-in user ends the session at once and
// returns to the registered URI with the state.
func TestEndSessionWithHintRedirectsWithState(t *testing.T) {
	s := newStack(t)
	id, secret := s.logoutApp(t, "A")
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	hint := s.signInForIDToken(t, b, id, secret, "alice", "alice's long password")

	loc := b.get(s.endSessionURL("id_token_hint", hint, "post_logout_redirect_uri", signedOutURI, "state", "st & 1", "ui_locales", "fr en")).location(t)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != signedOutURI || loc.Query().Get("state") != "st & 1" {
		t.Fatalf("redirected to %s", loc)
	}
	if s.signedInAt(t, b, id) {
		t.Fatal("session survived the logout")
	}
}

// Only a URI registered for the hint's client is ever redirected to: an
// unknown one, or one registered for another client, gets the signed-out
// page.
func TestEndSessionNeverRedirectsToUnregisteredURI(t *testing.T) {
	s := newStack(t)
	id, secret := s.logoutApp(t, "A")
	s.app(t, clients.Registration{Name: "B", Scopes: []string{"openid"}, PostLogoutRedirectURIs: []string{"https://b.test/bye"}})
	s.user(t, "alice", "alice's long password")
	for name, pairs := range map[string][]string{
		"unregistered":     {"post_logout_redirect_uri", "https://evil.test/"},
		"prefix":           {"post_logout_redirect_uri", signedOutURI + "/more"},
		"other client":     {"post_logout_redirect_uri", "https://b.test/bye"},
		"no client at all": {"post_logout_redirect_uri", signedOutURI, "client_id", "nope"},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t)
			hint := s.signInForIDToken(t, b, id, secret, "alice", "alice's long password")
			if name == "no client at all" {
				hint = ""
			}
			p := b.get(s.endSessionURL(append([]string{"id_token_hint", hint, "state", "x"}, pairs...)...))
			if p.status != http.StatusOK || p.header.Get("Location") != "" {
				t.Fatalf("want the signed-out page, got %d to %q", p.status, p.header.Get("Location"))
			}
		})
	}
}

// Another client's ID Token with a client_id it was not issued to is
// refused, and the session survives; so does a forged token.
func TestEndSessionRefusesMismatchedOrForgedHint(t *testing.T) {
	s := newStack(t)
	id, secret := s.logoutApp(t, "A")
	other, _ := s.logoutApp(t, "B")
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	hint := s.signInForIDToken(t, b, id, secret, "alice", "alice's long password")

	p := b.get(s.endSessionURL("id_token_hint", hint, "client_id", other, "post_logout_redirect_uri", signedOutURI))
	if p.status != http.StatusBadRequest {
		t.Fatalf("client_id mismatch: %d %s", p.status, p.header.Get("Location"))
	}
	forged := hint[:len(hint)-4] + "AAAA"
	if p := b.get(s.endSessionURL("id_token_hint", forged)); p.status != http.StatusBadRequest {
		t.Fatalf("forged hint: %d", p.status)
	}
	if !s.signedInAt(t, b, id) {
		t.Fatal("a refused logout ended the session")
	}
}

// Without a hint, or with one naming someone else, the user is asked
// first: the session survives the GET and a post without the page's CSRF
// token, and ends once the form is sent.
func TestEndSessionConfirmsWithoutMatchingHint(t *testing.T) {
	s := newStack(t)
	id, secret := s.logoutApp(t, "A")
	s.user(t, "alice", "alice's long password")
	s.user(t, "bob", "bob's long password!")
	bobsHint := s.signInForIDToken(t, newBrowser(t), id, secret, "bob", "bob's long password!")
	for name, hint := range map[string]string{"no hint": "", "another user's hint": bobsHint} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t)
			s.signInForIDToken(t, b, id, secret, "alice", "alice's long password")
			pairs := []string{"client_id", id, "post_logout_redirect_uri", signedOutURI, "state", "s1"}
			if hint != "" {
				pairs = append(pairs, "id_token_hint", hint)
			}
			p := b.get(s.endSessionURL(pairs...))
			if p.status != http.StatusOK || !strings.Contains(p.body, `id="signout"`) {
				t.Fatalf("want the confirmation page, got %d: %s", p.status, p.body)
			}
			if !s.signedInAt(t, b, id) {
				t.Fatal("session ended before the user confirmed")
			}
			action, csrf := p.form(t, "")
			if !strings.HasPrefix(action, "/end_session?") {
				t.Fatalf("form posts to %s", action)
			}
			if p := b.post(s.srv.URL+action, url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
				t.Fatalf("forged CSRF token: %d", p.status)
			}
			if !s.signedInAt(t, b, id) {
				t.Fatal("session ended by a forged confirmation")
			}
			loc := b.post(s.srv.URL+action, url.Values{"csrf": {csrf}}).location(t)
			if loc.Host != "app.test" || loc.Query().Get("state") != "s1" {
				t.Fatalf("redirected to %s", loc)
			}
			if s.signedInAt(t, b, id) {
				t.Fatal("session survived the confirmed logout")
			}
		})
	}
}

// POST works as GET does.
func TestEndSessionAcceptsPost(t *testing.T) {
	s := newStack(t)
	id, secret := s.logoutApp(t, "A")
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	hint := s.signInForIDToken(t, b, id, secret, "alice", "alice's long password")
	loc := b.post(s.srv.URL+"/end_session", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {signedOutURI}, "state": {"p"}}).location(t)
	if loc.Query().Get("state") != "p" || s.signedInAt(t, b, id) {
		t.Fatalf("redirected to %s; session should be gone", loc)
	}
}

// bclReceiver is a relying party's back-channel logout endpoint; each
// logout token's claims arrive on the channel.
func bclReceiver(t *testing.T) (string, <-chan map[string]any) {
	got := make(chan map[string]any, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- payloadOf(t, r.PostForm.Get("logout_token"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/backchannel", got
}

func wantLogoutToken(t *testing.T, got <-chan map[string]any, clientID, userID string) map[string]any {
	t.Helper()
	select {
	case c := <-got:
		if c["aud"] != clientID || c["sub"] != userID {
			t.Fatalf("logout token claims %v", c)
		}
		return c
	case <-time.After(3 * time.Second):
		t.Fatal("no logout token delivered")
	}
	return nil
}

// wantNoLogoutToken fails on any logout token within a short wait.
func wantNoLogoutToken(t *testing.T, got <-chan map[string]any) {
	t.Helper()
	select {
	case c := <-got:
		t.Fatalf("unexpected logout token %v", c)
	case <-time.After(300 * time.Millisecond):
	}
}

// Each session has its own sid, in its ID Tokens and in the logout token
// when it ends; ending one session tells its clients only about it, and a
// client the session never signed in to hears nothing.
func TestBackchannelLogoutPerSession(t *testing.T) {
	s := newStack(t)
	uri, got := bclReceiver(t)
	otherURI, otherGot := bclReceiver(t)
	reg := func(name, bcl string) (string, string) {
		c, secret, err := s.clients.Create(context.Background(), clients.Registration{
			Name: name, GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid"},
			RedirectURIs: []string{appRedirect}, IDTokenAlg: "ES256", BackchannelLogoutURI: bcl,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID, secret
	}
	rp, secret := reg("RP", uri)
	other, otherSecret := reg("Other", otherURI)
	alice := s.user(t, "alice", "alice's long password")
	laptop, phone := newBrowser(t), newBrowser(t)
	laptopSID := payloadOf(t, s.signInForIDToken(t, laptop, rp, secret, "alice", "alice's long password"))["sid"]
	phoneSID := payloadOf(t, s.signInForIDToken(t, phone, rp, secret, "alice", "alice's long password"))["sid"]
	if laptopSID == nil || laptopSID == "" || laptopSID == phoneSID {
		t.Fatalf("sids %v and %v: want two distinct ones", laptopSID, phoneSID)
	}
	// The phone signs in to the other client too; the laptop never does.
	s.signInForIDToken(t, phone, other, otherSecret, "alice", "alice's long password")

	_, csrf := laptop.get(s.srv.URL+"/logout").form(t, "")
	laptop.post(s.srv.URL+"/logout", url.Values{"csrf": {csrf}})
	if c := wantLogoutToken(t, got, rp, alice.ID); c["sid"] != laptopSID {
		t.Fatalf("logout token sid %v, want the laptop's %v", c["sid"], laptopSID)
	}
	wantNoLogoutToken(t, got)
	wantNoLogoutToken(t, otherGot)

	// Sign out everywhere ends the phone's session: both its clients hear,
	// with its sid.
	if _, err := s.revoker.RevokeUser(context.Background(), alice.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if c := wantLogoutToken(t, got, rp, alice.ID); c["sid"] != phoneSID {
		t.Fatalf("logout token sid %v, want the phone's %v", c["sid"], phoneSID)
	}
	if c := wantLogoutToken(t, otherGot, other, alice.ID); c["sid"] != phoneSID {
		t.Fatalf("other client's logout token sid %v, want the phone's %v", c["sid"], phoneSID)
	}
	wantNoLogoutToken(t, got)
}

// Ending a session (RP-initiated logout, POST /logout, sign out
// everywhere) sends each client the user holds a grant with a logout
// token at its registered URI.
func TestBackchannelLogoutDelivered(t *testing.T) {
	s := newStack(t)
	uri, got := bclReceiver(t)
	c, secret, err := s.clients.Create(context.Background(), clients.Registration{
		Name: "RP", GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"},
		RedirectURIs: []string{appRedirect}, IDTokenAlg: "ES256", BackchannelLogoutURI: uri,
	})
	if err != nil {
		t.Fatal(err)
	}
	alice := s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	hint := s.signInForIDToken(t, b, c.ID, secret, "alice", "alice's long password")

	t.Run("RP-initiated logout", func(t *testing.T) {
		b.get(s.endSessionURL("id_token_hint", hint))
		wantLogoutToken(t, got, c.ID, alice.ID)
	})
	t.Run("POST /logout", func(t *testing.T) {
		s.signInForIDToken(t, b, c.ID, secret, "alice", "alice's long password")
		_, csrf := b.get(s.srv.URL+"/logout").form(t, "")
		b.post(s.srv.URL+"/logout", url.Values{"csrf": {csrf}})
		wantLogoutToken(t, got, c.ID, alice.ID)
	})
	t.Run("sign out everywhere", func(t *testing.T) {
		s.signInForIDToken(t, b, c.ID, secret, "alice", "alice's long password")
		if _, err := s.revoker.RevokeUser(context.Background(), alice.ID, "test"); err != nil {
			t.Fatal(err)
		}
		wantLogoutToken(t, got, c.ID, alice.ID)
	})
}

// A pairwise client's ID Token, whose sub is no user ID, still names the
// signed-in user as id_token_hint: the session ends without confirmation.
func TestEndSessionPairwiseHint(t *testing.T) {
	s := newStack(t)
	id, secret := s.app(t, clients.Registration{
		Name: "A", Scopes: []string{"openid", "profile"}, IDTokenAlg: "ES256",
		RedirectURIs: []string{appRedirect}, PostLogoutRedirectURIs: []string{signedOutURI}, SubjectType: clients.SubjectPairwise,
	})
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	hint := s.signInForIDToken(t, b, id, secret, "alice", "alice's long password")

	loc := b.get(s.endSessionURL("id_token_hint", hint, "post_logout_redirect_uri", signedOutURI, "state", "s")).location(t)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != signedOutURI {
		t.Fatalf("redirected to %s", loc)
	}
	if s.signedInAt(t, b, id) {
		t.Fatal("session survived the logout")
	}
}
