package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"authserver/config"
	"authserver/store/redistest"
)

// signInPage posts the sign-in form of the authorization request q as a
// browser does: it loads the page (for the CSRF cookie and field), then
// posts username and password. It returns the answer's status.
func signInPage(t *testing.T, n *node, browser *http.Client, q url.Values, username, password string) int {
	t.Helper()
	resp, err := browser.Get(n.base + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("sign-in page: %d without a CSRF field", resp.StatusCode)
	}
	resp, err = browser.PostForm(n.base+"/authorize/login?"+q.Encode(), url.Values{
		"csrf": {string(m[1])}, "username": {username}, "password": {password},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A username that can never be valid is very often a password typed into
// the wrong field: failed sign-ins and lockouts, at the password grant and
// on the sign-in page, never write it to the log, only
// "username_malformed":true; a valid one is written normalized.
func malformedUsernamesNotLogged(t *testing.T, tweak func(*config.Config)) {
	var logBuf syncBuffer
	n := startNodeLog(t, func(c *config.Config) {
		c.Limits.PasswordFailuresPerUser = 2
		c.Limits.LoginFailuresPerIP = 2
		// A username that cannot exist has no per-user counter: the
		// client's own counter locks it out.
		c.Limits.PasswordFailuresPerClient = 4
		tweak(c)
	}, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	const passwordLike = "Tr0ub4dor&3 horse staple"
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "kim", "password": "kim's long password"})

	mobile := n.admin(t, "POST", "/admin/clients", map[string]any{"name": "mobile", "grant_types": []string{"password"}})
	grant := func(username, rid string) int {
		code, _ := formCall(t, n.base+"/token", url.Values{"grant_type": {"password"}, "username": {username}, "password": {"a wrong password"}},
			mobile["id"].(string), mobile["client_secret"].(string), rid)
		return code
	}
	for range 2 {
		grant(passwordLike, "")
		grant("KIM", "")
	}
	if code := grant(passwordLike, "rid-grant-malformed"); code != http.StatusTooManyRequests {
		t.Fatalf("password grant: no lockout for the malformed username: %d", code)
	}
	if code := grant("KIM", "rid-grant-valid"); code != http.StatusTooManyRequests {
		t.Fatalf("password grant: no lockout for kim: %d", code)
	}

	web := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "web", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://127.0.0.1/cb"},
	})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {web["id"].(string)}, "redirect_uri": {"http://127.0.0.1/cb"}, "response_type": {"code"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	for range 2 {
		signInPage(t, n, browser, q, passwordLike, "a wrong password")
	}
	if code := signInPage(t, n, browser, q, passwordLike, "a wrong password"); code != http.StatusTooManyRequests {
		t.Fatalf("sign-in page: no lockout: %d", code)
	}

	log := logBuf.String()
	for _, s := range []string{passwordLike, strings.ToLower(passwordLike), "Tr0ub4dor"} {
		if strings.Contains(log, s) {
			t.Errorf("the log contains the malformed username %q:\n%s", s, log)
		}
	}
	var malformed, pageLockout, valid int
	for _, e := range logBuf.events(t) {
		if e["event"] != "lockout" {
			continue
		}
		switch {
		case e["request_id"] == "rid-grant-malformed":
			if e["username_malformed"] != true || e["username"] != nil {
				t.Errorf("grant lockout of a malformed username: %v", e)
			}
			malformed++
		case e["request_id"] == "rid-grant-valid":
			if e["username"] != "kim" || e["username_malformed"] != nil {
				t.Errorf("grant lockout of KIM: %v, want the normalized username", e)
			}
			valid++
		case e["limit"] == "sign_in_per_ip":
			if e["username_malformed"] != true || e["username"] != nil {
				t.Errorf("sign-in lockout of a malformed username: %v", e)
			}
			pageLockout++
		}
	}
	if malformed != 1 || valid != 1 || pageLockout != 1 {
		t.Errorf("lockout events: %d malformed, %d valid, %d sign-in page; want 1 each:\n%s", malformed, valid, pageLockout, log)
	}
}

func TestMalformedUsernameNotLoggedEmbedded(t *testing.T) {
	malformedUsernamesNotLogged(t, func(*config.Config) {})
}

func TestMalformedUsernameNotLoggedRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	malformedUsernamesNotLogged(t, func(c *config.Config) { c.Redis.URL = r.URL() })
}
