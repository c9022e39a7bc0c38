package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/users"
)

// deviceFixture issues device cookies as a sign-in would and reads them
// back as the next attempt would.
type deviceFixture struct {
	a   *Authorize
	now time.Time
}

func newDeviceFixture(issuer string) *deviceFixture {
	f := &deviceFixture{now: time.Unix(1_800_000_000, 0)}
	f.a = NewAuthorize(AuthorizeConfig{Issuer: issuer, DeviceCookieKey: []byte("device cookie test key, 32 bytes"), DeviceCookieTTL: 24 * time.Hour}, AuthorizeDeps{})
	f.a.now = func() time.Time { return f.now }
	return f
}

func (f *deviceFixture) issue(t *testing.T, username string) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	f.a.setDeviceCookie(c, &users.User{Username: username})
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("setDeviceCookie set %d cookies", len(cs))
	}
	return cs[0]
}

func (f *deviceFixture) id(name, value, username string) string {
	r := httptest.NewRequest(http.MethodPost, "/authorize/login", nil)
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = r
	return f.a.deviceID(c, username)
}

func TestDeviceCookie(t *testing.T) {
	f := newDeviceFixture("http://auth.test")
	alice := f.issue(t, "alice")
	if !alice.HttpOnly || alice.SameSite != http.SameSiteLaxMode || alice.Secure || alice.Path != "/" || alice.MaxAge != 24*3600 {
		t.Fatalf("device cookie attributes %+v", alice)
	}
	if strings.Contains(alice.Value, ",") || strings.Contains(alice.Value, "\"") {
		t.Fatalf("device cookie value %q needs quoting", alice.Value)
	}
	id := f.id(alice.Name, alice.Value, "alice")
	if id == "" || !strings.Contains(alice.Value, "|"+id+"|") {
		t.Fatalf("a fresh cookie reads as device %q", id)
	}
	if f.id(alice.Name, alice.Value, "ALICE") != id {
		t.Fatal("usernames are case-insensitive")
	}
	if again := f.issue(t, "alice"); f.id(again.Name, again.Value, "alice") == id {
		t.Fatal("each sign-in must issue a new nonce")
	}

	bob := f.issue(t, "bob")
	if bob.Name == alice.Name {
		t.Fatal("one cookie name for two users: a shared browser would lose one")
	}
	parts := strings.Split(alice.Value, "|")
	other := newDeviceFixture("http://auth.test")
	other.a.cfg.DeviceCookieKey = []byte("another node's key, not shared!!")
	foreign := other.issue(t, "alice")
	for name, c := range map[string]struct{ name, value, user string }{
		"bob's cookie for alice":          {alice.Name, bob.Value, "alice"},
		"alice's cookie for bob":          {bob.Name, alice.Value, "bob"},
		"login changed":                   {alice.Name, "bob|" + strings.Join(parts[1:], "|"), "alice"},
		"expiry changed":                  {alice.Name, strings.Join([]string{parts[0], parts[1], "9999999999", parts[3]}, "|"), "alice"},
		"nonce changed":                   {alice.Name, strings.Join([]string{parts[0], "AAAAAAAAAAAAAAAAAAAAAA", parts[2], parts[3]}, "|"), "alice"},
		"mac changed":                     {alice.Name, strings.Join(parts[:3], "|") + "|" + strings.Repeat("A", len(parts[3])), "alice"},
		"no mac":                          {alice.Name, strings.Join(parts[:3], "|"), "alice"},
		"signed with another key":         {alice.Name, foreign.Value, "alice"},
		"garbage":                         {alice.Name, "x", "alice"},
		"empty":                           {alice.Name, "", "alice"},
		"an invalid username":             {alice.Name, alice.Value, "alice!"},
		"another user's name, own cookie": {alice.Name, alice.Value, "bob"},
	} {
		if got := f.id(c.name, c.value, c.user); got != "" {
			t.Errorf("%s: read as device %q, want none", name, got)
		}
	}
	f.now = f.now.Add(24*time.Hour + time.Second)
	if got := f.id(alice.Name, alice.Value, "alice"); got != "" {
		t.Errorf("an expired cookie read as device %q", got)
	}

	// An https issuer: Secure and __Host-.
	s := newDeviceFixture("https://auth.example.test").issue(t, "alice")
	if !s.Secure || !strings.HasPrefix(s.Name, "__Host-authserver_device_") || s.Path != "/" || s.Domain != "" {
		t.Fatalf("https device cookie %+v", s)
	}
	// No key: no device cookies, every browser an unknown source.
	off := newDeviceFixture("http://auth.test")
	off.a.cfg.DeviceCookieKey = nil
	if got := off.id(alice.Name, alice.Value, "alice"); got != "" {
		t.Errorf("without a key a cookie read as device %q", got)
	}
}
