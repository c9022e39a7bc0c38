package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"authserver/clients"
	"authserver/config"
	"authserver/store/redistest"
)

func register(t *testing.T, n *node, md map[string]any) (*http.Response, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(md)
	resp, err := http.Post(n.base+"/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func publicMetadata() map[string]any {
	return map[string]any{
		"client_name": "MCP client", "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"redirect_uris": []string{"http://127.0.0.1:33418/callback"},
	}
}

// registration.anonymous over HTTP: public clients register without a
// token, others are refused with RFC 7591 errors, and the address's
// quota ends in 429 with Retry-After.
func TestAnonymousRegistrationOverHTTP(t *testing.T) {
	closed := startNode(t, nil)
	if resp, _ := register(t, closed, publicMetadata()); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous registration is off by default: %d", resp.StatusCode)
	}
	anonymousOverHTTP(t, nil)
}

func TestAnonymousRegistrationOverHTTPRedis(t *testing.T) {
	r := redistest.StartStandalone(t)
	anonymousOverHTTP(t, func(c *config.Config) { c.Redis.URL = r.URL() })
}

func anonymousOverHTTP(t *testing.T, store func(*config.Config)) {
	n := startNode(t, func(c *config.Config) {
		c.Registration.Anonymous, c.Registration.AnonymousPerIPPerHour = true, 3
		if store != nil {
			store(c)
		}
	})
	confidential := publicMetadata()
	confidential["token_endpoint_auth_method"] = "client_secret_basic"
	if resp, b := register(t, n, confidential); resp.StatusCode != http.StatusBadRequest || b["error"] != "invalid_client_metadata" {
		t.Fatalf("confidential: %d %v", resp.StatusCode, b)
	}
	web := publicMetadata()
	web["redirect_uris"] = []string{"http://app.example/cb"}
	if resp, b := register(t, n, web); resp.StatusCode != http.StatusBadRequest || b["error"] != "invalid_redirect_uri" {
		t.Fatalf("http redirect: %d %v", resp.StatusCode, b)
	}
	for i := range 3 {
		resp, b := register(t, n, publicMetadata())
		if resp.StatusCode != http.StatusCreated || b["client_secret"] != nil || b["token_endpoint_auth_method"] != "none" {
			t.Fatalf("registration %d: %d %v", i+1, resp.StatusCode, b)
		}
	}
	resp, b := register(t, n, publicMetadata())
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || b["error"] == nil {
		t.Fatalf("over the quota: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

// Forty registrations at once from one address: at most the quota pass,
// on either store.
func TestAnonymousRegistrationQuotaConcurrent(t *testing.T) {
	r := redistest.StartStandalone(t)
	for name, store := range map[string]func(*config.Config){"embedded": nil, "redis": func(c *config.Config) { c.Redis.URL = r.URL() }} {
		t.Run(name, func(t *testing.T) {
			n := startNode(t, func(c *config.Config) {
				c.Registration.Anonymous, c.Registration.AnonymousPerIPPerHour = true, 20
				if store != nil {
					store(c)
				}
			})
			codes := make(chan int, 40)
			var wg sync.WaitGroup
			body, _ := json.Marshal(publicMetadata())
			for range 40 {
				wg.Go(func() {
					resp, err := http.Post(n.base+"/register", "application/json", bytes.NewReader(body))
					if err != nil {
						codes <- 0
						return
					}
					resp.Body.Close()
					codes <- resp.StatusCode
				})
			}
			wg.Wait()
			close(codes)
			created, limited := 0, 0
			for c := range codes {
				switch c {
				case http.StatusCreated:
					created++
				case http.StatusTooManyRequests:
					limited++
				}
			}
			if created > 20 || created+limited != 40 {
				t.Fatalf("%d created, %d limited of 40", created, limited)
			}
		})
	}
}

// An anonymous client unused past registration.anonymous_unused_ttl is
// unknown at /authorize at once and removed by the sweep, on either store.
func TestAnonymousClientExpires(t *testing.T) {
	r := redistest.StartStandalone(t)
	for name, store := range map[string]func(*config.Config){"embedded": nil, "redis": func(c *config.Config) { c.Redis.URL = r.URL() }} {
		t.Run(name, func(t *testing.T) {
			n := startNode(t, func(c *config.Config) {
				c.Registration.Anonymous, c.Registration.AnonymousUnusedTTL = true, time.Second
				if store != nil {
					store(c)
				}
			})
			resp, b := register(t, n, publicMetadata())
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("register: %d %v", resp.StatusCode, b)
			}
			id := b["client_id"].(string)
			authorize := n.base + "/authorize?response_type=code&client_id=" + id + "&redirect_uri=" + url.QueryEscape("http://127.0.0.1:33418/callback")
			read, browser := pageReader(t), pageClient()
			// Known, it is told at its redirect URI what is wrong (no PKCE).
			if resp, body := read(browser.Get(authorize)); resp.StatusCode != http.StatusFound {
				t.Fatalf("a fresh anonymous client: %d %s", resp.StatusCode, body)
			}
			time.Sleep(1100 * time.Millisecond)
			if resp, body := read(browser.Get(authorize)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not registered") {
				t.Fatalf("an expired anonymous client: %d %s", resp.StatusCode, body)
			}
			if n, err := n.app.Registration.DeleteUnused(t.Context()); n != 1 || err != nil {
				t.Fatalf("sweep: %d %v", n, err)
			}
			if _, err := n.app.Clients.Get(t.Context(), id); !errors.Is(err, clients.ErrNotFound) {
				t.Fatalf("after the sweep: %v", err)
			}
		})
	}
}

// A token keeps an anonymous client alive: /token records its last use.
func TestAnonymousClientTokenRecordsUse(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.Registration.Anonymous = true })
	resp, b := register(t, n, publicMetadata())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", resp.StatusCode, b)
	}
	id := b["client_id"].(string)
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	const redirect = "http://127.0.0.1:33418/callback"
	conf := oauth2.Config{ClientID: id, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: n.base + "/authorize", TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	read, c := pageReader(t), pageClient()
	_, body := read(c.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))))
	resp, body = submit(t, c, n.base, body, url.Values{"username": {"alice"}, "password": {"alice's long password"}})
	for resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/") {
		resp, body = read(c.Get(n.base + resp.Header.Get("Location")))
	}
	resp, _ = submit(t, c, n.base, body, url.Values{"decision": {"allow"}})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorization response %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if cl, _ := n.app.Clients.Get(t.Context(), id); !cl.LastUsedAt.IsZero() {
		t.Fatal("a use recorded before any token")
	}
	if _, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	cl, err := n.app.Clients.Get(t.Context(), id)
	if err != nil || cl.LastUsedAt.IsZero() || time.Since(cl.LastUsedAt) > time.Minute {
		t.Fatalf("last use after a token: %v %v", cl.LastUsedAt, err)
	}
}
