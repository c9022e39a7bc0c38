package registration_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/clients"
	"authserver/registration"
	"authserver/store/embedded"
	"authserver/tokens"
)

var allGrants = []string{"authorization_code", "client_credentials", "password", "refresh_token"}

type env struct {
	t       *testing.T
	store   *embedded.Store
	clients *clients.Registry
	svc     *registration.Service
	audit   *bytes.Buffer
}

func newEnv(t *testing.T, cfg registration.Config) *env {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Issuer == "" {
		cfg.Issuer = "https://auth.example"
	}
	if cfg.AllowedGrantTypes == nil {
		cfg.AllowedGrantTypes = allGrants
	}
	reg := clients.NewRegistry(st, []string{"profile", "email", "invoices:read"})
	audit := &bytes.Buffer{}
	return &env{t: t, store: st, clients: reg, audit: audit,
		svc: registration.New(cfg, reg, st, tokens.NewRevoker(st, nil, reg, time.Minute, 15*time.Minute, nil), slog.New(slog.NewTextHandler(audit, nil)))}
}

// iat issues an initial access token with n uses.
func (e *env) iat(n int64) string {
	e.t.Helper()
	tok, _, err := e.svc.IssueInitialAccessToken(context.Background(), time.Hour, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) usesLeft(tok string) int64 {
	e.t.Helper()
	t, err := e.store.LookupInitialAccessToken(context.Background(), clients.HashSecret(tok), time.Now())
	if errors.Is(err, registration.ErrTokenInvalid) {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return t.UsesLeft
}

func (e *env) clientCount() int {
	e.t.Helper()
	l, err := e.clients.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return len(l)
}

// register registers md with a fresh one-use token and fails the test on
// error.
func (e *env) register(md registration.Metadata) *registration.Information {
	e.t.Helper()
	info, err := e.svc.Register(context.Background(), e.iat(1), md)
	if err != nil {
		e.t.Fatalf("Register: %v", err)
	}
	return info
}

func machine() registration.Metadata {
	return registration.Metadata{ClientName: "billing", GrantTypes: []string{"client_credentials"}, Scope: "invoices:read"}
}

func webApp() registration.Metadata {
	return registration.Metadata{
		ClientName: "Invoice Viewer", RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scope: "profile email",
	}
}

func wantCode(t *testing.T, err error, code, desc string) {
	t.Helper()
	var re *registration.Error
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a registration error %s", err, code)
	}
	if re.Code != code || !strings.Contains(re.Description, desc) {
		t.Fatalf("got %s %q, want %s containing %q", re.Code, re.Description, code, desc)
	}
}

func wantUnauthorized(t *testing.T, err error) {
	t.Helper()
	var ue *registration.UnauthorizedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an UnauthorizedError", err)
	}
}

// TestValidation runs every rule of RFC 7591 §2 and §3.2.2 this server
// applies: each refused registration stores nothing and spends no use of
// the initial access token.
func TestValidation(t *testing.T) {
	e := newEnv(t, registration.Config{AllowedGrantTypes: []string{"authorization_code", "client_credentials", "refresh_token"}})
	const (
		redirect = registration.CodeInvalidRedirectURI
		meta     = registration.CodeInvalidClientMetadata
	)
	with := func(base registration.Metadata, f func(*registration.Metadata)) registration.Metadata {
		f(&base)
		return base
	}
	long := "https://app.example/" + strings.Repeat("a", 2000)
	cases := []struct {
		name string
		md   registration.Metadata
		code string // "" means accepted
		desc string
	}{
		// Redirect URIs: absolute, no fragment, https except loopback.
		{"relative redirect", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"/cb"} }), redirect, "not an absolute URI"},
		{"fragment", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"https://app.example/cb#x"} }), redirect, "fragment"},
		{"empty fragment", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"https://app.example/cb#"} }), redirect, "fragment"},
		{"http not loopback", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"http://app.example/cb"} }), redirect, "loopback"},
		{"id_token alg ES256", with(webApp(), func(m *registration.Metadata) { m.IDTokenSignedResponseAlg = "ES256" }), "", ""},
		{"id_token alg none", with(webApp(), func(m *registration.Metadata) { m.IDTokenSignedResponseAlg = "none" }), meta, "id_token_signed_response_alg"},
		{"id_token alg HS256", with(webApp(), func(m *registration.Metadata) { m.IDTokenSignedResponseAlg = "HS256" }), meta, "id_token_signed_response_alg"},
		// OpenID Connect metadata: pairwise subjects on one host; what the
		// server does not support is refused.
		{"subject public", with(webApp(), func(m *registration.Metadata) { m.SubjectType = "public" }), "", ""},
		{"subject pairwise", with(webApp(), func(m *registration.Metadata) { m.SubjectType = "pairwise" }), "", ""},
		{"subject pairwise one host", with(webApp(), func(m *registration.Metadata) {
			m.SubjectType = "pairwise"
			m.RedirectURIs = []string{"https://app.example/cb", "https://APP.example:8443/other"}
		}), "", ""},
		{"subject pairwise two hosts", with(webApp(), func(m *registration.Metadata) {
			m.SubjectType = "pairwise"
			m.RedirectURIs = []string{"https://app.example/cb", "https://other.example/cb"}
		}), meta, "or a sector_identifier_uri listing them"},
		{"subject pairwise two hosts with a sector", with(webApp(), func(m *registration.Metadata) {
			m.SubjectType, m.SectorIdentifierURI = "pairwise", "https://sector.example/uris.json"
			m.RedirectURIs = []string{"https://app.example/cb", "https://other.example/cb"}
		}), meta, "sector_identifier_uri: is not supported by this server"}, // passed on to the registry, which has no fetcher here
		{"subject unknown", with(webApp(), func(m *registration.Metadata) { m.SubjectType = "other" }), meta, "subject_type is not supported"},
		{"sector identifier of a public client", with(webApp(), func(m *registration.Metadata) { m.SectorIdentifierURI = "https://app.example/sector.json" }), meta, "only for subject_type pairwise"},
		{"userinfo alg none", with(webApp(), func(m *registration.Metadata) { m.UserinfoSignedResponseAlg = "none" }), "", ""},
		{"userinfo alg RS256", with(webApp(), func(m *registration.Metadata) { m.UserinfoSignedResponseAlg = "RS256" }), meta, "userinfo_signed_response_alg is not supported"},
		{"request object alg", with(webApp(), func(m *registration.Metadata) { m.RequestObjectSigningAlg = "RS256" }), meta, "request_object_signing_alg is not supported"},
		{"request uris", with(webApp(), func(m *registration.Metadata) { m.RequestURIs = []string{"https://app.example/req"} }), meta, "request_uris is not supported"},
		{"http loopback", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"http://127.0.0.1:8400/cb"} }), "", ""},
		{"http loopback v6", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"http://[::1]/cb"} }), "", ""},
		{"private-use scheme", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"com.example.app:/cb"} }), redirect, "use https"},
		{"javascript", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"javascript:alert(1)"} }), redirect, "use https"},
		{"https no host", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"https:///cb"} }), redirect, "no host"},
		{"unparsable", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{"https://a b/"} }), redirect, "not an absolute URI"},
		{"redirect too long", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = []string{long} }), redirect, "longer than"},
		{"too many redirects", with(webApp(), func(m *registration.Metadata) {
			m.RedirectURIs = nil
			for i := range 21 {
				m.RedirectURIs = append(m.RedirectURIs, "https://app.example/cb"+strings.Repeat("x", i))
			}
		}), redirect, "at most 20"},
		{"code without redirect", with(webApp(), func(m *registration.Metadata) { m.RedirectURIs = nil }), redirect, "redirect_uris is required"},
		// Post-logout redirect URIs: the same rules.
		{"post-logout http not loopback", with(webApp(), func(m *registration.Metadata) { m.PostLogoutRedirectURIs = []string{"http://app.example/bye"} }), redirect, "post_logout_redirect_uris[0]"},
		{"post-logout fragment", with(webApp(), func(m *registration.Metadata) { m.PostLogoutRedirectURIs = []string{"https://app.example/bye#x"} }), redirect, "post_logout_redirect_uris[0] must not have a fragment"},
		{"post-logout private-use scheme", with(webApp(), func(m *registration.Metadata) { m.PostLogoutRedirectURIs = []string{"com.example.app:/bye"} }), redirect, "use https"},
		{"post-logout https", with(webApp(), func(m *registration.Metadata) { m.PostLogoutRedirectURIs = []string{"https://app.example/bye"} }), "", ""},
		{"backchannel http", with(webApp(), func(m *registration.Metadata) { m.BackchannelLogoutURI = "http://app.example/bcl" }), meta, "backchannel_logout_uri"},
		{"backchannel fragment", with(webApp(), func(m *registration.Metadata) { m.BackchannelLogoutURI = "https://app.example/bcl#f" }), meta, "backchannel_logout_uri"},
		{"backchannel sid required", with(webApp(), func(m *registration.Metadata) {
			m.BackchannelLogoutURI, m.BackchannelLogoutSessionRequired = "https://app.example/bcl", true
		}), "", ""},
		{"backchannel sid required without uri", with(webApp(), func(m *registration.Metadata) { m.BackchannelLogoutSessionRequired = true }), meta, "backchannel_logout_session_required"},
		{"backchannel https", with(webApp(), func(m *registration.Metadata) { m.BackchannelLogoutURI = "https://app.example/bcl" }), "", ""},
		{"default grant needs redirect", registration.Metadata{ClientName: "x"}, redirect, "redirect_uris is required"},
		{"default grant", registration.Metadata{RedirectURIs: []string{"https://app.example/cb"}}, "", ""},

		// Grant and response types.
		{"unknown grant", with(machine(), func(m *registration.Metadata) { m.GrantTypes = []string{"implicit"} }), meta, "a grant type is not supported"},
		{"urn grant", with(machine(), func(m *registration.Metadata) {
			m.GrantTypes = []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}
		}), meta, "not supported"},
		{"grant not allowed by policy", with(machine(), func(m *registration.Metadata) { m.GrantTypes = []string{"password"} }), meta, "not available to registered clients"},
		{"refresh alone", with(machine(), func(m *registration.Metadata) { m.GrantTypes = []string{"refresh_token"} }), meta, "refresh_token needs"},
		{"code response without code grant", with(machine(), func(m *registration.Metadata) { m.ResponseTypes = []string{"code"} }), meta, "needs the authorization_code grant"},
		{"code grant with empty response types", with(webApp(), func(m *registration.Metadata) { m.ResponseTypes = []string{} }), meta, "needs the code response type"},
		{"token response type", with(webApp(), func(m *registration.Metadata) { m.ResponseTypes = []string{"code", "token"} }), meta, "only code is supported"},
		{"id_token response type", with(webApp(), func(m *registration.Metadata) { m.ResponseTypes = []string{"code id_token"} }), meta, "only code is supported"},
		{"response types derived", with(webApp(), func(m *registration.Metadata) { m.ResponseTypes = nil }), "", ""},

		// Client authentication.
		{"unknown auth method", with(machine(), func(m *registration.Metadata) { m.TokenEndpointAuthMethod = "client_secret_jwt" }), meta, "token_endpoint_auth_method is not supported"},
		{"post auth method", with(machine(), func(m *registration.Metadata) { m.TokenEndpointAuthMethod = "client_secret_post" }), "", ""},
		{"public client_credentials", with(machine(), func(m *registration.Metadata) { m.TokenEndpointAuthMethod = "none" }), meta, `public client cannot use "client_credentials"`},
		{"public web app", with(webApp(), func(m *registration.Metadata) { m.TokenEndpointAuthMethod = "none" }), "", ""},

		// Scopes: only those the server advertises.
		{"unknown scope", with(machine(), func(m *registration.Metadata) { m.Scope = "invoices:read admin" }), meta, `scope: scope "admin" is not supported`},
		{"malformed scope", with(machine(), func(m *registration.Metadata) { m.Scope = `a"b` }), meta, "scope tokens"},
		{"no scope", with(machine(), func(m *registration.Metadata) { m.Scope = "" }), "", ""},

		// Descriptive metadata.
		{"client_uri javascript", with(machine(), func(m *registration.Metadata) { m.ClientURI = "javascript:alert(1)" }), meta, "client_uri"},
		{"logo_uri relative", with(machine(), func(m *registration.Metadata) { m.LogoURI = "/logo.png" }), meta, "logo_uri"},
		{"tos_uri data", with(machine(), func(m *registration.Metadata) { m.TOSURI = "data:text/html,hi" }), meta, "tos_uri"},
		{"policy_uri no host", with(machine(), func(m *registration.Metadata) { m.PolicyURI = "https://" }), meta, "policy_uri"},
		{"uri too long", with(machine(), func(m *registration.Metadata) { m.ClientURI = long }), meta, "client_uri longer than"},
		{"name too long", with(machine(), func(m *registration.Metadata) { m.ClientName = strings.Repeat("n", 201) }), meta, "client_name"},
		{"name control char", with(machine(), func(m *registration.Metadata) { m.ClientName = "bad\x00name" }), meta, "client_name"},
		{"empty contact", with(machine(), func(m *registration.Metadata) { m.Contacts = []string{"ops@x.example", " "} }), meta, "contacts"},
		{"too many contacts", with(machine(), func(m *registration.Metadata) { m.Contacts = slices.Repeat([]string{"a@x.example"}, 11) }), meta, "contacts: at most 10"},
		{"software_id too long", with(machine(), func(m *registration.Metadata) { m.SoftwareID = strings.Repeat("s", 201) }), meta, "software_id"},
		{"software_version control", with(machine(), func(m *registration.Metadata) { m.SoftwareVersion = "1\n2" }), meta, "software_version"},
		{"all descriptive", with(machine(), func(m *registration.Metadata) {
			m.ClientURI, m.LogoURI, m.TOSURI, m.PolicyURI = "https://p.example", "https://p.example/l.png", "https://p.example/tos", "https://p.example/privacy"
			m.Contacts, m.SoftwareID, m.SoftwareVersion = []string{"ops@p.example"}, "billing-sync", "2.1"
		}), "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := e.iat(1)
			before := e.clientCount()
			info, err := e.svc.Register(context.Background(), tok, c.md)
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if info.ClientID == "" || e.usesLeft(tok) != 0 || e.clientCount() != before+1 {
					t.Fatalf("accepted, but info %+v, uses left %d, clients %d -> %d", info, e.usesLeft(tok), before, e.clientCount())
				}
				return
			}
			wantCode(t, err, c.code, c.desc)
			if e.clientCount() != before {
				t.Fatal("a refused registration stored a client")
			}
			if e.usesLeft(tok) != 1 {
				t.Fatal("a refused registration spent the initial access token")
			}
		})
	}
}

func TestRegisteredClient(t *testing.T) {
	e := newEnv(t, registration.Config{Issuer: "https://auth.example/"})
	md := webApp()
	md.ClientURI, md.Contacts, md.SoftwareID = "https://app.example", []string{"ops@app.example"}, "viewer"
	md.PostLogoutRedirectURIs = []string{"https://app.example/bye"}
	info := e.register(md)
	if !slices.Equal(info.PostLogoutRedirectURIs, md.PostLogoutRedirectURIs) {
		t.Fatalf("post_logout_redirect_uris %v", info.PostLogoutRedirectURIs)
	}
	if info.ClientSecret == "" || info.RegistrationAccessToken == "" || info.ClientSecretExpiresAt == nil || *info.ClientSecretExpiresAt != 0 {
		t.Fatalf("confidential registration: %+v", info)
	}
	if info.RegistrationClientURI != "https://auth.example/register/"+info.ClientID {
		t.Fatalf("registration_client_uri %q", info.RegistrationClientURI)
	}
	if d := time.Since(time.Unix(info.ClientIDIssuedAt, 0)); d < 0 || d > time.Minute {
		t.Fatalf("client_id_issued_at %d", info.ClientIDIssuedAt)
	}
	if !slices.Equal(info.ResponseTypes, []string{"code"}) || info.Scope != "profile email" || info.TokenEndpointAuthMethod != "client_secret_basic" || info.IDTokenSignedResponseAlg != "RS256" {
		t.Fatalf("registered metadata: %+v", info)
	}

	c, err := e.clients.Get(context.Background(), info.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	// Not first-party (the consent page is shown), no audience of its own,
	// and only hashes stored.
	if c.FirstParty || len(c.Audience) != 0 || c.Metadata.ClientURI != "https://app.example" || c.Metadata.SoftwareID != "viewer" {
		t.Fatalf("stored client: %+v", c)
	}
	if bytes.Equal(c.RegistrationTokenHash, []byte(info.RegistrationAccessToken)) || !bytes.Equal(c.RegistrationTokenHash, clients.HashSecret(info.RegistrationAccessToken)) {
		t.Fatal("the registration access token is not stored as its SHA-256")
	}
	if _, err := e.clients.Authenticate(context.Background(), info.ClientID, info.ClientSecret); err != nil {
		t.Fatalf("the issued secret does not authenticate: %v", err)
	}
	// The audit record names the client but never a secret.
	if log := e.audit.String(); !strings.Contains(log, "event=client_registered") || !strings.Contains(log, info.ClientID) || strings.Contains(log, info.ClientSecret) || strings.Contains(log, info.RegistrationAccessToken) {
		t.Fatalf("audit log: %s", log)
	}

	// A public client gets no secret and no secret expiry; an unnamed
	// client is named by its ID.
	pub := webApp()
	pub.TokenEndpointAuthMethod, pub.ClientName = "none", ""
	pi := e.register(pub)
	if pi.ClientSecret != "" || pi.ClientSecretExpiresAt != nil || pi.ClientName != pi.ClientID {
		t.Fatalf("public registration: %+v", pi)
	}
	// client_credentials only: no response types.
	if mi := e.register(machine()); len(mi.ResponseTypes) != 0 || mi.ResponseTypes == nil {
		t.Fatalf("machine client response_types %#v, want []", mi.ResponseTypes)
	}
}

func TestInitialAccessTokens(t *testing.T) {
	e := newEnv(t, registration.Config{})
	ctx := context.Background()

	wantUnauthorized(t, func() error { _, err := e.svc.Register(ctx, "", machine()); return err }())
	wantUnauthorized(t, func() error { _, err := e.svc.Register(ctx, "not-a-token", machine()); return err }())
	if e.clientCount() != 0 {
		t.Fatal("a registration without a valid token stored a client")
	}

	tok := e.iat(2)
	e.register(machine()) // on a token of its own
	for range 2 {
		if _, err := e.svc.Register(ctx, tok, machine()); err != nil {
			t.Fatal(err)
		}
	}
	// Used up: 401.
	wantUnauthorized(t, func() error { _, err := e.svc.Register(ctx, tok, machine()); return err }())

	// Expired: 401.
	expired := "an-expired-initial-access-token"
	err := e.store.CreateInitialAccessToken(ctx, clients.HashSecret(expired),
		registration.InitialAccessToken{ExpiresAt: time.Now().Add(-time.Second), UsesLeft: 5})
	if err != nil {
		t.Fatal(err)
	}
	wantUnauthorized(t, func() error { _, err := e.svc.Register(ctx, expired, machine()); return err }())

	// Limits and defaults.
	for _, c := range []struct {
		ttl   time.Duration
		uses  int64
		field string
	}{
		{-time.Hour, 1, "ttl"}, {time.Millisecond, 1, "ttl"}, {registration.MaxTokenTTL + time.Hour, 1, "ttl"},
		{time.Hour, -1, "uses"}, {time.Hour, registration.MaxTokenUses + 1, "uses"},
	} {
		var pe *registration.ParamError
		if _, _, err := e.svc.IssueInitialAccessToken(ctx, c.ttl, c.uses); !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("Issue(%v, %d): %v, want a %s error", c.ttl, c.uses, err, c.field)
		}
	}
	tok, it, err := e.svc.IssueInitialAccessToken(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if it.UsesLeft != 1 || time.Until(it.ExpiresAt) < 23*time.Hour || time.Until(it.ExpiresAt) > 24*time.Hour || len(tok) < 43 {
		t.Fatalf("defaults: %q %+v", tok, it)
	}
}

// Concurrent registrations on a one-use token: exactly one client is made.
func TestOneUseTokenRace(t *testing.T) {
	e := newEnv(t, registration.Config{})
	tok := e.iat(1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, unauthorized := 0, 0
	for range 20 {
		wg.Go(func() {
			_, err := e.svc.Register(context.Background(), tok, machine())
			var ue *registration.UnauthorizedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.As(err, &ue):
				unauthorized++
			default:
				t.Errorf("Register: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || unauthorized != 19 || e.clientCount() != 1 {
		t.Fatalf("%d registrations won, %d refused, %d clients; want 1, 19, 1", wins, unauthorized, e.clientCount())
	}
}

func TestOpenRegistration(t *testing.T) {
	e := newEnv(t, registration.Config{Open: true})
	ctx := context.Background()
	if _, err := e.svc.Register(ctx, "", machine()); err != nil {
		t.Fatalf("open registration without a token: %v", err)
	}
	// A token that is sent must still be valid.
	wantUnauthorized(t, func() error { _, err := e.svc.Register(ctx, "forged", machine()); return err }())
	tok := e.iat(1)
	if _, err := e.svc.Register(ctx, tok, machine()); err != nil || e.usesLeft(tok) != 0 {
		t.Fatalf("open registration with a token: %v, %d uses left", err, e.usesLeft(tok))
	}
}

func TestManagement(t *testing.T) {
	e := newEnv(t, registration.Config{})
	ctx := context.Background()
	a, b := e.register(webApp()), e.register(machine())

	got, err := e.svc.Read(ctx, a.ClientID, a.RegistrationAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientSecret != "" || got.RegistrationAccessToken != a.RegistrationAccessToken || got.ClientName != a.ClientName ||
		!slices.Equal(got.RedirectURIs, a.RedirectURIs) || got.ClientIDIssuedAt != a.ClientIDIssuedAt {
		t.Fatalf("read %+v, registered %+v", got, a)
	}

	// Refusals: no token, another client's token, a made-up one, an
	// unknown client, and an admin-made client (it has no token at all).
	adminClient, _, err := e.clients.Create(ctx, clients.Registration{Name: "admin-made", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, tok string }{
		{a.ClientID, ""}, {a.ClientID, b.RegistrationAccessToken}, {a.ClientID, a.ClientSecret},
		{"unknown", a.RegistrationAccessToken}, {adminClient.ID, a.RegistrationAccessToken}, {adminClient.ID, ""},
	} {
		_, err := e.svc.Read(ctx, c.id, c.tok)
		wantUnauthorized(t, err)
		_, err = e.svc.Update(ctx, c.id, c.tok, registration.UpdateRequest{Metadata: machine(), ClientID: c.id})
		wantUnauthorized(t, err)
		wantUnauthorized(t, e.svc.Delete(ctx, c.id, c.tok))
	}

	// Update replaces the metadata; omitted fields go.
	upd := registration.UpdateRequest{ClientID: a.ClientID, ClientSecret: &a.ClientSecret, Metadata: registration.Metadata{
		ClientName: "Invoice Viewer 2", RedirectURIs: []string{"https://app.example/cb2"},
		GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "client_secret_post",
	}}
	u, err := e.svc.Update(ctx, a.ClientID, a.RegistrationAccessToken, upd)
	if err != nil {
		t.Fatal(err)
	}
	if u.ClientName != "Invoice Viewer 2" || !slices.Equal(u.RedirectURIs, []string{"https://app.example/cb2"}) ||
		!slices.Equal(u.GrantTypes, []string{"authorization_code"}) || u.Scope != "" || u.TokenEndpointAuthMethod != "client_secret_post" ||
		u.ClientID != a.ClientID || u.ClientIDIssuedAt != a.ClientIDIssuedAt || u.RegistrationAccessToken != a.RegistrationAccessToken {
		t.Fatalf("updated: %+v", u)
	}
	// The secret and the registration token still work.
	if _, err := e.clients.Authenticate(ctx, a.ClientID, a.ClientSecret); err != nil {
		t.Fatalf("secret after update: %v", err)
	}
	if got, err := e.svc.Read(ctx, a.ClientID, a.RegistrationAccessToken); err != nil || got.ClientName != "Invoice Viewer 2" {
		t.Fatalf("read after update: %+v, %v", got, err)
	}

	// What an update may not do.
	bad := func(f func(*registration.UpdateRequest)) registration.UpdateRequest {
		r := registration.UpdateRequest{ClientID: a.ClientID, Metadata: webApp()}
		f(&r)
		return r
	}
	wrong := "wrong secret"
	for _, c := range []struct {
		name string
		req  registration.UpdateRequest
		code string
		desc string
	}{
		{"no client_id", bad(func(r *registration.UpdateRequest) { r.ClientID = "" }), registration.CodeInvalidClientMetadata, "client_id"},
		{"other client_id", bad(func(r *registration.UpdateRequest) { r.ClientID = b.ClientID }), registration.CodeInvalidClientMetadata, "client_id"},
		{"wrong secret", bad(func(r *registration.UpdateRequest) { r.ClientSecret = &wrong }), registration.CodeInvalidClientMetadata, "client_secret"},
		{"registration token in body", bad(func(r *registration.UpdateRequest) { r.RegistrationAccessToken = []byte(`"x"`) }), registration.CodeInvalidClientMetadata, "registration_access_token"},
		{"issued_at in body", bad(func(r *registration.UpdateRequest) { r.ClientIDIssuedAt = []byte(`1`) }), registration.CodeInvalidClientMetadata, "client_id_issued_at"},
		{"to public", bad(func(r *registration.UpdateRequest) { r.TokenEndpointAuthMethod = "none" }), registration.CodeInvalidClientMetadata, "cannot change"},
		{"bad redirect", bad(func(r *registration.UpdateRequest) { r.RedirectURIs = []string{"http://evil.example/cb"} }), registration.CodeInvalidRedirectURI, "loopback"},
		{"unknown scope", bad(func(r *registration.UpdateRequest) { r.Scope = "admin" }), registration.CodeInvalidClientMetadata, "scope"},
	} {
		_, err := e.svc.Update(ctx, a.ClientID, a.RegistrationAccessToken, c.req)
		wantCode(t, err, c.code, c.desc)
	}
	if got, _ := e.svc.Read(ctx, a.ClientID, a.RegistrationAccessToken); got.ClientName != "Invoice Viewer 2" {
		t.Fatalf("a refused update changed the client: %+v", got)
	}

	// Delete: the client is gone, and its token with it.
	if err := e.svc.Delete(ctx, a.ClientID, a.RegistrationAccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clients.Get(ctx, a.ClientID); !errors.Is(err, clients.ErrNotFound) {
		t.Fatalf("client after delete: %v", err)
	}
	_, err = e.svc.Read(ctx, a.ClientID, a.RegistrationAccessToken)
	wantUnauthorized(t, err)
	wantUnauthorized(t, e.svc.Delete(ctx, a.ClientID, a.RegistrationAccessToken))
	if _, err := e.svc.Read(ctx, b.ClientID, b.RegistrationAccessToken); err != nil {
		t.Fatalf("deleting one client touched another: %v", err)
	}
}

// An admin's disable survives the client's own update.
func TestUpdateKeepsDisabled(t *testing.T) {
	e := newEnv(t, registration.Config{})
	ctx := context.Background()
	a := e.register(machine())
	if _, err := e.clients.SetDisabled(ctx, a.ClientID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Update(ctx, a.ClientID, a.RegistrationAccessToken, registration.UpdateRequest{ClientID: a.ClientID, Metadata: machine()}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.clients.Get(ctx, a.ClientID); !c.Disabled {
		t.Fatal("the client's update re-enabled it")
	}
}
