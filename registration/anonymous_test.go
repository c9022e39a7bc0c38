package registration_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/clients"
	"authserver/ratelimit"
	"authserver/registration"
	"authserver/tokens"
)

func anonymousEnv(t *testing.T, perHour int) *env {
	t.Helper()
	e := newEnv(t, registration.Config{})
	// The limiter counts in the env's store: the service is made again over it.
	e.svc = registration.New(registration.Config{
		Issuer: "https://auth.example", AllowedGrantTypes: allGrants,
		Anonymous: true, AnonymousPerIPPerHour: perHour, Limiter: ratelimit.New(e.store),
	}, e.clients, e.store, tokens.NewRevoker(e.store, nil, e.clients, time.Minute, 15*time.Minute, nil), nil)
	return e
}

func mcpClient() registration.Metadata {
	return registration.Metadata{
		ClientName: "MCP Inspector", TokenEndpointAuthMethod: "none",
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{"http://127.0.0.1:6274/oauth/callback", "http://localhost/cb", "http://[::1]:8080/cb", "https://app.example/cb"},
	}
}

func TestAnonymousRegistration(t *testing.T) {
	e := anonymousEnv(t, 20)
	info, err := e.svc.RegisterFrom(context.Background(), "192.0.2.1", "", mcpClient())
	if err != nil {
		t.Fatal(err)
	}
	if info.ClientSecret != "" || info.TokenEndpointAuthMethod != "none" || info.RegistrationAccessToken == "" {
		t.Fatalf("information %+v", info)
	}
	c, err := e.clients.Get(context.Background(), info.ClientID)
	if err != nil || !c.Anonymous || !c.Public || c.FirstParty {
		t.Fatalf("stored %+v %v", c, err)
	}
	// With an initial access token the usual rules apply, unmarked.
	md := mcpClient()
	md.TokenEndpointAuthMethod, md.GrantTypes, md.ResponseTypes = "client_secret_basic", []string{"client_credentials"}, nil
	info, err = e.svc.RegisterFrom(context.Background(), "192.0.2.1", e.iat(1), md)
	if err != nil || info.ClientSecret == "" {
		t.Fatalf("with a token: %+v %v", info, err)
	}
	if c, _ := e.clients.Get(context.Background(), info.ClientID); c.Anonymous {
		t.Fatal("a client registered with a token is marked anonymous")
	}
}

func TestAnonymousRegistrationRefusals(t *testing.T) {
	e := anonymousEnv(t, 100)
	cases := map[string]func(*registration.Metadata){
		"confidential":              func(m *registration.Metadata) { m.TokenEndpointAuthMethod = "client_secret_basic" },
		"auth method left out":      func(m *registration.Metadata) { m.TokenEndpointAuthMethod = "" },
		"client_credentials":        func(m *registration.Metadata) { m.GrantTypes = []string{"client_credentials"} },
		"password":                  func(m *registration.Metadata) { m.GrantTypes = []string{"authorization_code", "password"} },
		"http non-loopback":         func(m *registration.Metadata) { m.RedirectURIs = []string{"http://app.example/cb"} },
		"http on a private address": func(m *registration.Metadata) { m.RedirectURIs = []string{"http://10.0.0.1/cb"} },
		"private-use scheme":        func(m *registration.Metadata) { m.RedirectURIs = []string{"com.example.app:/cb"} },
		"http post-logout":          func(m *registration.Metadata) { m.PostLogoutRedirectURIs = []string{"http://app.example/bye"} },
		"backchannel logout":        func(m *registration.Metadata) { m.BackchannelLogoutURI = "https://app.example/bcl" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			md := mcpClient()
			edit(&md)
			before := e.clientCount()
			_, err := e.svc.RegisterFrom(context.Background(), "192.0.2.1", "", md)
			var re *registration.Error
			if !errors.As(err, &re) {
				t.Fatalf("want an RFC 7591 error, got %v", err)
			}
			if e.clientCount() != before {
				t.Fatal("a refused registration stored a client")
			}
		})
	}
	// Register, whoever calls it without a token, applies the same rules.
	md := mcpClient()
	md.TokenEndpointAuthMethod = "client_secret_basic"
	if _, err := e.svc.Register(context.Background(), "", md); err == nil {
		t.Fatal("Register without a token skipped the anonymous rules")
	}
}

// The 21st registration from one address within the hour is refused with
// a Retry-After; another address is not affected.
func TestAnonymousRegistrationRateLimit(t *testing.T) {
	e := anonymousEnv(t, 20)
	ctx := context.Background()
	for i := range 20 {
		if _, err := e.svc.RegisterFrom(ctx, "192.0.2.1", "", mcpClient()); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	_, err := e.svc.RegisterFrom(ctx, "192.0.2.1", "", mcpClient())
	var le *registration.LimitedError
	if !errors.As(err, &le) || le.RetryAfter < 1 || le.RetryAfter > 3600 {
		t.Fatalf("21st: %v", err)
	}
	if _, err := e.svc.RegisterFrom(ctx, "198.51.100.7", "", mcpClient()); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if e.clientCount() != 21 {
		t.Fatalf("%d clients stored, want 21", e.clientCount())
	}
}

// Forty at once from one address: at most twenty get through.
func TestAnonymousRegistrationRateLimitConcurrent(t *testing.T) {
	e := anonymousEnv(t, 20)
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, err := e.svc.RegisterFrom(context.Background(), "192.0.2.9", "", mcpClient())
			var le *registration.LimitedError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &le):
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() > 20 || ok.Load()+limited.Load() != 40 || e.clientCount() != int(ok.Load()) {
		t.Fatalf("%d registered, %d limited, %d stored", ok.Load(), limited.Load(), e.clientCount())
	}
}

// An anonymous client cannot update itself out of the anonymous rules.
func TestAnonymousClientUpdateKeepsRules(t *testing.T) {
	e := anonymousEnv(t, 20)
	ctx := context.Background()
	info, err := e.svc.RegisterFrom(ctx, "192.0.2.1", "", mcpClient())
	if err != nil {
		t.Fatal(err)
	}
	req := registration.UpdateRequest{Metadata: mcpClient(), ClientID: info.ClientID}
	req.RedirectURIs = []string{"http://attacker.example/cb"}
	if _, err := e.svc.Update(ctx, info.ClientID, info.RegistrationAccessToken, req); err == nil {
		t.Fatal("an anonymous client updated to an http non-loopback redirect URI")
	}
	req.RedirectURIs = []string{"https://app.example/new"}
	if _, err := e.svc.Update(ctx, info.ClientID, info.RegistrationAccessToken, req); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.clients.Get(ctx, info.ClientID); !c.Anonymous {
		t.Fatal("the update dropped the anonymous mark")
	}
}

// The janitor deletes expired anonymous clients only.
func TestDeleteUnusedAnonymousClients(t *testing.T) {
	e := anonymousEnv(t, 20)
	ctx := context.Background()
	anon, err := e.svc.RegisterFrom(ctx, "192.0.2.1", "", mcpClient())
	if err != nil {
		t.Fatal(err)
	}
	partner, err := e.svc.RegisterFrom(ctx, "192.0.2.1", e.iat(1), mcpClient())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.DeleteUnused(ctx); n != 0 || err != nil {
		t.Fatalf("without a TTL nothing expires: %d %v", n, err)
	}
	e.clients.ExpireAnonymousAfter(time.Nanosecond) // everything anonymous is past it
	if n, err := e.svc.DeleteUnused(ctx); n != 1 || err != nil {
		t.Fatalf("deleted %d, %v", n, err)
	}
	if _, err := e.clients.Get(ctx, anon.ClientID); !errors.Is(err, clients.ErrNotFound) {
		t.Fatalf("the unused anonymous client is still there: %v", err)
	}
	if _, err := e.clients.Get(ctx, partner.ClientID); err != nil {
		t.Fatal(err)
	}
}
