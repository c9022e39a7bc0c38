package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"authserver/config"
	"authserver/store/redistest"
)

// attemptAnswer is one answer to a sign-in attempt, as an observer sees it,
// with what necessarily differs between two requests taken out: Date, the
// request id, and Retry-After (checked apart: it counts down).
type attemptAnswer struct {
	status     int
	header     http.Header
	body       []byte
	retryAfter string
	checks     int64 // argon2id computations the attempt cost
}

func observed(t *testing.T, resp *http.Response, checks int64) attemptAnswer {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header.Clone()
	retry := h.Get("Retry-After")
	for _, k := range []string{"Date", "X-Request-Id", "Retry-After"} {
		h.Del(k)
	}
	return attemptAnswer{status: resp.StatusCode, header: h, body: body, retryAfter: retry, checks: checks}
}

// sameAnswers fails unless every answer is byte-identical to the first, in
// status, headers, body and cost.
func sameAnswers(t *testing.T, what string, names []string, got []attemptAnswer) {
	t.Helper()
	first := got[0]
	for i, a := range got[1:] {
		switch {
		case a.status != first.status:
			t.Errorf("%s: %s answered %d, %s %d", what, names[i+1], a.status, names[0], first.status)
		case !bytes.Equal(a.body, first.body):
			t.Errorf("%s: bodies differ:\n%s: %s\n%s: %s", what, names[0], first.body, names[i+1], a.body)
		case a.checks != first.checks:
			t.Errorf("%s: %s cost %d argon2 computations, %s %d", what, names[i+1], a.checks, names[0], first.checks)
		case (a.retryAfter == "") != (first.retryAfter == ""):
			t.Errorf("%s: Retry-After %q vs %q", what, a.retryAfter, first.retryAfter)
		}
		if len(a.header) != len(first.header) {
			t.Errorf("%s: headers differ: %v vs %v", what, first.header, a.header)
		}
		for k, v := range first.header {
			if strings.Join(a.header[k], ",") != strings.Join(v, ",") {
				t.Errorf("%s: header %s: %s %q, %s %q", what, k, names[0], v, names[i+1], a.header[k])
			}
		}
	}
	if first.retryAfter != "" {
		a, _ := strconv.Atoi(first.retryAfter)
		b, _ := strconv.Atoi(got[len(got)-1].retryAfter)
		if a < 1 || b < 1 || a-b > 1 || b-a > 1 {
			t.Errorf("%s: Retry-After %q and %q", what, first.retryAfter, got[len(got)-1].retryAfter)
		}
	}
}

// noEnumeration drives the password grant and the sign-in page with one
// username in every state an attacker may want to tell apart, so that the
// answers can be compared byte for byte: a wrong password for an existing
// user, the same for that user disabled, and for the name once deleted
// (unknown); and a locked-out name while the user exists and once it does
// not. An early "does the user exist?" return anywhere shows as another
// answer or another argon2 count.
func noEnumeration(t *testing.T, n *node) {
	checks := n.app.Users.PasswordChecks
	mobile := n.admin(t, "POST", "/admin/clients", map[string]any{"name": "mobile", "grant_types": []string{"password"}})
	grant := func(username string) attemptAnswer {
		form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {"not the password"}}
		req, _ := http.NewRequest(http.MethodPost, n.base+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(mobile["id"].(string), mobile["client_secret"].(string))
		before := checks()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return observed(t, resp, checks()-before)
	}
	web := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "web", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{revocationRedirect},
	})
	p := newPages(t, n.base)
	q := url.Values{"client_id": {web["id"].(string)}, "redirect_uri": {revocationRedirect}, "response_type": {"code"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	loginPage := p.do(http.MethodGet, n.base+"/authorize?"+q.Encode(), nil)
	action, csrf := pageAction.FindStringSubmatch(loginPage.body), pageCSRF.FindStringSubmatch(loginPage.body)
	if action == nil || csrf == nil {
		t.Fatalf("no sign-in form: %s", loginPage.body)
	}
	page := func(username string) attemptAnswer {
		form := url.Values{"csrf": {csrf[1]}, "username": {username}, "password": {"not the password"}}
		req, _ := http.NewRequest(http.MethodPost, n.base+"/authorize/login?"+q.Encode(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		before := checks()
		resp, err := p.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return observed(t, resp, checks()-before)
	}

	for _, try := range []struct {
		name    string
		attempt func(string) attemptAnswer
	}{{"password grant", grant}, {"sign-in page", page}} {
		t.Run(try.name, func(t *testing.T) {
			name := strings.ReplaceAll(try.name, " ", "")[:6] + "sam"
			u := n.admin(t, "POST", "/admin/users", map[string]any{"username": name, "password": name + "'s long password"})
			wrong := try.attempt(name)
			n.admin(t, "POST", "/admin/users/"+u["id"].(string)+"/disable", nil)
			disabled := try.attempt(name)
			n.admin(t, "DELETE", "/admin/users/"+u["id"].(string), nil)
			unknown := try.attempt(name)
			sameAnswers(t, "failed attempt", []string{"wrong password", "disabled user", "unknown user"}, []attemptAnswer{wrong, disabled, unknown})
			if wrong.checks != 1 || wrong.status == http.StatusTooManyRequests {
				t.Fatalf("a failed attempt: %d, %d argon2 computations; want one, not locked", wrong.status, wrong.checks)
			}

			// Locked: the limit (5 by default) used up while the user exists,
			// then the same name once it is gone.
			locked := name + "x"
			u = n.admin(t, "POST", "/admin/users", map[string]any{"username": locked, "password": locked + "'s long password"})
			for range 5 {
				try.attempt(locked)
			}
			lockedKnown := try.attempt(locked)
			n.admin(t, "DELETE", "/admin/users/"+u["id"].(string), nil)
			lockedUnknown := try.attempt(locked)
			sameAnswers(t, "locked out", []string{"locked user", "locked unknown user"}, []attemptAnswer{lockedKnown, lockedUnknown})
			if lockedKnown.status != http.StatusTooManyRequests || lockedKnown.checks != 0 {
				t.Fatalf("a locked-out attempt: %d, %d argon2 computations; want 429 and none", lockedKnown.status, lockedKnown.checks)
			}
		})
	}
}

func TestNoUserEnumerationEmbedded(t *testing.T) {
	noEnumeration(t, startNode(t, nil))
}

func TestNoUserEnumerationRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	noEnumeration(t, startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() }))
}
