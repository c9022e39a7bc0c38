package clients_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/store/embedded"
)

func newRegistry(t *testing.T) (*clients.Registry, *embedded.Store) {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return clients.NewRegistry(st, []string{"read", "write"}), st
}

func TestRegistrationValidation(t *testing.T) {
	r, _ := newRegistry(t)
	cc := []string{"client_credentials"}
	code := []string{"authorization_code", "refresh_token"}
	cases := []struct {
		name  string
		reg   clients.Registration
		field string // "" when valid
	}{
		{"minimal confidential", clients.Registration{Name: "a", GrantTypes: cc}, ""},
		{"no name", clients.Registration{GrantTypes: cc}, "name"},
		{"no grant", clients.Registration{Name: "a"}, "grant_types"},
		{"unknown grant", clients.Registration{Name: "a", GrantTypes: []string{"implicit"}}, "grant_types"},
		{"refresh alone", clients.Registration{Name: "a", GrantTypes: []string{"refresh_token"}}, "grant_types"},
		{"public client_credentials", clients.Registration{Name: "a", Public: true, GrantTypes: cc}, "grant_types"},
		{"public password", clients.Registration{Name: "a", Public: true, GrantTypes: []string{"password"}}, "grant_types"},
		{"public with a secret method", clients.Registration{Name: "a", Public: true, AuthMethod: clients.AuthSecretBasic, GrantTypes: code, RedirectURIs: []string{"https://a.test/cb"}}, "token_endpoint_auth_method"},
		{"confidential with none", clients.Registration{Name: "a", AuthMethod: clients.AuthNone, GrantTypes: cc}, "token_endpoint_auth_method"},
		{"unknown method", clients.Registration{Name: "a", AuthMethod: "client_secret_jwt", GrantTypes: cc}, "token_endpoint_auth_method"},
		{"code without redirect", clients.Registration{Name: "a", GrantTypes: code}, "redirect_uris"},
		{"relative redirect", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"/cb"}}, "redirect_uris"},
		{"fragment", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"https://a.test/cb#x"}}, "redirect_uris"},
		{"http non-loopback", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"http://a.test/cb"}}, "redirect_uris"},
		{"javascript scheme", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"javascript:alert(1)"}}, "redirect_uris"},
		{"post-logout http non-loopback", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"https://a.test/cb"}, PostLogoutRedirectURIs: []string{"http://a.test/bye"}}, "post_logout_redirect_uris"},
		{"post-logout fragment", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"https://a.test/cb"}, PostLogoutRedirectURIs: []string{"https://a.test/bye#x"}}, "post_logout_redirect_uris"},
		{"backchannel http non-loopback", clients.Registration{Name: "a", GrantTypes: cc, BackchannelLogoutURI: "http://rp.test/bcl"}, "backchannel_logout_uri"},
		{"backchannel fragment", clients.Registration{Name: "a", GrantTypes: cc, BackchannelLogoutURI: "https://rp.test/bcl#x"}, "backchannel_logout_uri"},
		{"backchannel private-use scheme", clients.Registration{Name: "a", GrantTypes: cc, BackchannelLogoutURI: "com.example.app:/bcl"}, "backchannel_logout_uri"},
		{"backchannel https", clients.Registration{Name: "a", GrantTypes: cc, BackchannelLogoutURI: "https://rp.test/bcl"}, ""},
		{"backchannel http loopback", clients.Registration{Name: "a", GrantTypes: cc, BackchannelLogoutURI: "http://127.0.0.1:9000/bcl"}, ""},
		{"http loopback", clients.Registration{Name: "a", GrantTypes: code, RedirectURIs: []string{"http://127.0.0.1:9000/cb"}}, ""},
		{"private-use scheme", clients.Registration{Name: "a", Public: true, GrantTypes: code, RedirectURIs: []string{"com.example.app:/cb"}}, ""},
		{"bad scope", clients.Registration{Name: "a", GrantTypes: cc, Scopes: []string{`a"b`}}, "scopes"},
		{"admin-defined scope", clients.Registration{Name: "a", GrantTypes: cc, Scopes: []string{"invoices:read"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, secret, err := r.Create(context.Background(), tc.reg)
			var ve *clients.ValidationError
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Public != (secret == "") {
					t.Fatalf("public=%v but secret %q", c.Public, secret)
				}
				return
			}
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("want a %s validation error, got %v", tc.field, err)
			}
		})
	}
	if err := r.CheckSupportedScopes([]string{"read", "invoices:read"}); err == nil {
		t.Fatal("an unadvertised scope passed CheckSupportedScopes")
	}
}

func TestAuthenticateAndRotate(t *testing.T) {
	r, st := newRegistry(t)
	ctx := context.Background()
	c, secret, err := r.Create(ctx, clients.Registration{Name: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 32 || strings.HasPrefix(c.ID, "-") {
		t.Fatalf("client id %q", c.ID)
	}
	if _, err := r.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ id, secret string }{{c.ID, ""}, {c.ID, secret[:len(secret)-1]}, {"unknown", secret}} {
		if _, err := r.Authenticate(ctx, bad.id, bad.secret); !errors.Is(err, clients.ErrAuthenticationFailed) {
			t.Fatalf("%+v: %v", bad, err)
		}
	}

	// Rotation with an overlap: both secrets work until it ends, and the
	// old one not an instant longer. The clock is the test's, so a loaded
	// machine cannot stretch the overlap.
	clock := time.Now()
	r.SetClock(func() time.Time { return clock })
	const overlap = time.Hour
	_, second, err := r.RotateSecret(ctx, c.ID, overlap)
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(overlap - time.Nanosecond)
	for _, s := range []string{secret, second} {
		if _, err := r.Authenticate(ctx, c.ID, s); err != nil {
			t.Fatalf("during the overlap: %v", err)
		}
	}
	stored, err := st.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.SecretHash)+string(stored.PreviousSecretHash), second) {
		t.Fatal("a secret is stored in the clear")
	}
	clock = clock.Add(time.Nanosecond)
	if _, err := r.Authenticate(ctx, c.ID, secret); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("the old secret outlived its overlap: %v", err)
	}
	if _, err := r.Authenticate(ctx, c.ID, second); err != nil {
		t.Fatalf("the new secret after the overlap: %v", err)
	}
	// Rotation without overlap: the old secret stops at once.
	_, third, err := r.RotateSecret(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, c.ID, second); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatal("the old secret works after a rotation without overlap")
	}
	if _, err := r.SetDisabled(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, c.ID, third); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatal("a disabled client authenticates")
	}
}

func TestGrantScope(t *testing.T) {
	c := &clients.Client{Scopes: []string{"read", "write"}}
	for _, tc := range []struct {
		ask, want string
		ok        bool
	}{
		{"", "read write", true},
		{"read", "read", true},
		{"write read read", "write read", true},
		{"read  write", "read write", true},
		{"admin", "", false},
		{"read\tadmin", "", false},
		{"   ", "", false},
	} {
		got, ok := c.GrantScope(tc.ask)
		if ok != tc.ok || got != tc.want {
			t.Errorf("GrantScope(%q) = %q, %v; want %q, %v", tc.ask, got, ok, tc.want, tc.ok)
		}
	}
}
