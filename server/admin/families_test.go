package admin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"authserver/server/admin"
	"authserver/tokens"
	"authserver/users"
)

// withDeny rebuilds e's handler with a deny list, as the app wires it.
func (e *env) withDeny() {
	us := users.NewService(e.store, users.Hasher{Time: 1, MemoryKiB: 64, Threads: 1})
	e.h = admin.New(admin.Options{
		Token: testToken, Clients: e.clients, Families: e.store, Keys: e.keys, Users: us,
		Audit:   slog.New(slog.NewJSONHandler(e.audit, nil)),
		Revoker: tokens.NewRevoker(e.store, us, e.clients, time.Minute, time.Minute, slog.New(slog.NewJSONHandler(e.audit, nil))),
	})
}

// signedIn starts a family for the user with a known newest jti, as a
// sign-in at /token would, and returns it.
func (e *env) signedIn(userID, clientID string, created time.Time) tokens.Family {
	e.t.Helper()
	f := tokens.Family{
		ID: tokens.NewFamilyID(), ClientID: clientID, UserID: userID, Scope: "read write",
		AuthTime: created, CreatedAt: created, ExpiresAt: created.Add(2 * time.Hour), IdleExpiresAt: created.Add(time.Hour),
		LastJTI: tokens.NewJTI(),
	}
	_, hash := tokens.NewRefreshToken(f.ID)
	if err := e.store.CreateFamily(context.Background(), f, hash); err != nil {
		e.t.Fatal(err)
	}
	return f
}

func TestListFamilies(t *testing.T) {
	e := newEnv(t)
	u, other := e.createUser("carol"), e.createUser("dan")
	now := time.Now().Truncate(time.Second)
	laptop := e.signedIn(u, "client-a", now.Add(-time.Minute))
	phone := e.signedIn(u, "client-b", now)
	e.signedIn(other, "client-a", now)
	gone := e.signedIn(u, "client-a", now)
	if _, err := e.store.RevokeFamily(context.Background(), gone.ID, time.Minute); err != nil {
		t.Fatal(err)
	}

	rec := e.do("GET", "/admin/users/"+u+"/families", nil)
	expect(t, rec, http.StatusOK)
	for _, leak := range []string{laptop.LastJTI, phone.LastJTI, `hash"`, `"current`, `jti"`, `"revoked`} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Fatalf("family list shows %q: %s", leak, rec.Body)
		}
	}
	var out struct {
		Families []admin.FamilyView `json:"families"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Families) != 2 || out.Families[0].ID != laptop.ID || out.Families[1].ID != phone.ID {
		t.Fatalf("families %+v, want the laptop then the phone", out.Families)
	}
	got := out.Families[1]
	if got.ClientID != "client-b" || got.Scope != "read write" || !got.CreatedAt.Equal(phone.CreatedAt) ||
		!got.ExpiresAt.Equal(phone.ExpiresAt) || !got.IdleExpiresAt.Equal(phone.IdleExpiresAt) {
		t.Fatalf("family view %+v, want %+v", got, phone)
	}

	// A user without families has an empty list, not null.
	rec = e.do("GET", "/admin/users/"+e.createUser("erin")+"/families", nil)
	if strings.TrimSpace(rec.Body.String()) != `{"families":[]}` {
		t.Fatalf("empty list: %s", rec.Body)
	}
	expectError(t, e.do("GET", "/admin/users/nobody/families", nil), http.StatusNotFound, "not_found", "")
}

// Sign out everywhere: every family of the user is revoked, and with it the
// newest access token of each; other users keep theirs.
func TestSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	e.withDeny()
	u, other := e.createUser("carol"), e.createUser("dan")
	now := time.Now()
	f1, f2 := e.signedIn(u, "client-a", now), e.signedIn(u, "client-b", now)
	keep := e.signedIn(other, "client-a", now)

	req := httptest.NewRequest("DELETE", "/admin/users/"+u+"/families", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("X-Request-ID", "signout-1")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if m := expect(t, rec, http.StatusOK); m["families_revoked"] != float64(2) {
		t.Fatalf("answer %v", m)
	}
	if rec.Header().Get("X-Request-ID") != "signout-1" {
		t.Errorf("X-Request-ID not echoed: %v", rec.Header())
	}
	ctx := context.Background()
	for _, f := range []tokens.Family{f1, f2} {
		if !e.revoked(f.ID) {
			t.Errorf("family %s still live", f.ID)
		}
		if d, _ := e.store.IsDenied(ctx, f.LastJTI); !d {
			t.Errorf("newest access token of %s not denied", f.ID)
		}
	}
	if e.revoked(keep.ID) {
		t.Error("another user's family was revoked")
	}
	if d, _ := e.store.IsDenied(ctx, keep.LastJTI); d {
		t.Error("another user's access token was denied")
	}

	// One admin_action and one family_revoked per family, all with the
	// request id.
	var actions, revoked int
	for _, line := range strings.Split(strings.TrimSpace(e.audit.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if m["request_id"] != "signout-1" {
			continue
		}
		switch m["event"] {
		case "admin_action":
			actions++
			if m["action"] != "users.sign_out" || m["user_id"] != u || m["families_revoked"] != float64(2) {
				t.Errorf("admin_action %v", m)
			}
		case "family_revoked":
			revoked++
			if m["user_id"] != u || m["reason"] != "users.sign_out" {
				t.Errorf("family_revoked %v", m)
			}
		}
	}
	if actions != 1 || revoked != 2 {
		t.Fatalf("%d admin_action and %d family_revoked events for the request:\n%s", actions, revoked, e.audit)
	}

	// Again: nothing left to revoke. An unknown user: 404.
	if m := expect(t, e.do("DELETE", "/admin/users/"+u+"/families", nil), http.StatusOK); m["families_revoked"] != float64(0) {
		t.Fatalf("second sign-out %v", m)
	}
	expectError(t, e.do("DELETE", "/admin/users/nobody/families", nil), http.StatusNotFound, "not_found", "")
}

// Deleting, disabling or re-passwording a user denies the newest access
// tokens too, when the admin API has the deny list.
func TestUserChangesDenyNewestAccessTokens(t *testing.T) {
	for _, c := range []struct{ method, suffix, body string }{
		{"DELETE", "", ""}, {"POST", "/disable", ""}, {"PUT", "/password", `{"password":"a brand new password"}`},
	} {
		e := newEnv(t)
		e.withDeny()
		u := e.createUser("fred")
		f := e.signedIn(u, "client-a", time.Now())
		var body any
		if c.body != "" {
			body = c.body
		}
		if rec := e.do(c.method, "/admin/users/"+u+c.suffix, body); rec.Code >= 300 {
			t.Fatalf("%s %s: %d %s", c.method, c.suffix, rec.Code, rec.Body)
		}
		if d, _ := e.store.IsDenied(context.Background(), f.LastJTI); !d {
			t.Errorf("%s %s: newest access token not denied", c.method, c.suffix)
		}
	}
}
