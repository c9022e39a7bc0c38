package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/cimd"
	"authserver/cimd/cimdtest"
	"authserver/fetcher"
)

// cimdStack is a stack whose registry falls back on client ID metadata
// documents served by o.
func cimdStack(t *testing.T, tweak func(*fetcher.Config)) (*stack, *cimdtest.Origin) {
	t.Helper()
	s := newStack(t)
	o := cimdtest.New(t)
	cfg := fetcher.Config{AllowLoopback: true, RootCAFile: o.CAFile, Timeout: 500 * time.Millisecond, MaxBytes: 4096}
	if tweak != nil {
		tweak(&cfg)
	}
	f, err := fetcher.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.clients.UseResolver(cimd.New(fetcher.NewCache(f, fetcher.CacheConfig{MinTTL: 5 * time.Minute}), []string{"profile", "offline_access"}, cfg.MaxBytes))
	return s, o
}

// publicToken posts form to /token as a public client (client_id in the
// body, no secret).
func publicToken(t *testing.T, s *stack, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.srv.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// A client the server never met: its document is fetched, the user is
// asked (every time) on a page that names the document's host and says it
// is unverified, and the code is exchanged with PKCE and no secret.
func TestMetadataDocumentClientFlow(t *testing.T) {
	s, o := cimdStack(t, nil)
	id := o.Document("/oauth/client.json", []string{appRedirect}, nil)
	s.user(t, "alice", "alice's long password")
	b := newBrowser(t)
	base := s.srv.URL

	p := b.signIn(b.get(s.authURL(id)), base, "alice", "alice's long password")
	host := strings.TrimPrefix(o.URL, "https://")
	if !strings.Contains(p.body, `id="unverified"`) || !strings.Contains(p.body, host) || !strings.Contains(p.body, "not been verified by the administrator") {
		t.Fatalf("the consent page should name %s and say it is unverified: %s", host, p.body)
	}
	q := b.decide(p, base, "allow").location(t).Query()
	code := q.Get("code")
	if code == "" || q.Get("state") != "st-123" {
		t.Fatalf("authorization response %v", q)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}, "client_id": {id}}
	status, tok := publicToken(t, s, withVerifier(form, testVerifier))
	if status != http.StatusOK || tok["access_token"] == nil || tok["refresh_token"] == nil || tok["scope"] != "profile" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	status, tok = publicToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {id}})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, tok)
	}

	// Consent is not remembered: the page again, and prompt=none cannot pass.
	if p := b.get(s.authURL(id)); !strings.Contains(p.body, `value="allow"`) {
		t.Fatalf("an unverified client must be asked every time: %d", p.status)
	}
	wantRedirectError(t, s, b.get(s.authURL(id, "prompt", "none")), "consent_required")
	if o.Hits() != 1 {
		t.Fatalf("the document was fetched %d times, want once", o.Hits())
	}
}

func withVerifier(f url.Values, v string) url.Values {
	out := url.Values{}
	for k, vs := range f {
		out[k] = vs
	}
	out.Set("code_verifier", v)
	return out
}

// A public client must use PKCE, document or not.
func TestMetadataDocumentClientNeedsPKCE(t *testing.T) {
	s, o := cimdStack(t, nil)
	id := o.Document("/c", []string{appRedirect}, nil)
	p := newBrowser(t).get(s.authURL(id, "code_challenge", "", "code_challenge_method", ""))
	wantRedirectError(t, s, p, "invalid_request")
}

// Until the client's document is fetched and checked, nothing is
// redirected: each refusal is an error page that says why.
func TestMetadataDocumentRefusals(t *testing.T) {
	s, o := cimdStack(t, func(c *fetcher.Config) { c.DenyHosts = []string{"localhost"} })
	mismatch := o.Document("/mismatch", []string{appRedirect}, func(d map[string]any) { d["client_id"] = o.URL + "/other" })
	secret := o.Document("/secret", []string{appRedirect}, func(d map[string]any) { d["client_secret"] = "shh" })
	other := o.Document("/other-redirect", []string{"https://elsewhere.test/cb"}, nil)
	big := o.Handle("/big", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(strings.Repeat(" ", 5000))) })
	moved := o.Handle("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusMovedPermanently) })
	slow := o.Handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	denied := strings.Replace(o.Document("/denied", []string{appRedirect}, nil), "127.0.0.1", "localhost", 1)
	b := newBrowser(t)
	for id, want := range map[string]string{
		mismatch:                    "client_id is not the URL",
		secret:                      "client_secret",
		other:                       "return address in the sign-in link is not registered",
		big:                         "larger than 4096 bytes",
		moved:                       "redirects",
		slow:                        "timed out",
		denied:                      "does not accept clients from",
		"http://127.0.0.1/insecure": "must be https",
	} {
		p := b.get(s.authURL(id))
		if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || !strings.Contains(p.body, want) {
			t.Errorf("%s: want an error page saying %q, got %d %s", id, want, p.status, p.body)
		}
		// /token says the same, as invalid_client.
		status, body := publicToken(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {appRedirect}, "client_id": {id}, "code_verifier": {testVerifier}})
		if id != other && (status != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.Contains(body["error_description"].(string), want)) {
			t.Errorf("%s at /token: %d %v", id, status, body)
		}
	}
}

// Fifty sign-in pages at once for one new client fetch its document once.
func TestMetadataDocumentFetchedOnce(t *testing.T) {
	s, o := cimdStack(t, nil)
	id := o.Document("/c", []string{appRedirect}, nil)
	statuses := make(chan int, 50)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			resp, err := http.Get(s.authURL(id))
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusOK {
			t.Fatalf("sign-in page status %d", st)
		}
	}
	if o.Hits() != 1 {
		t.Fatalf("document fetched %d times, want 1", o.Hits())
	}
}
