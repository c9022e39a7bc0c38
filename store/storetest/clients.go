package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"authserver/clients"
	"authserver/store"
)

func newClient(id string) *clients.Client {
	now := ms(time.Now())
	return &clients.Client{
		ID:                      id,
		Name:                    "client " + id,
		SecretHash:              hashOf(),
		PreviousSecretHash:      hashOf(),
		PreviousSecretExpiresAt: now.Add(time.Hour),
		AuthMethod:              clients.AuthSecretBasic,
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		Scopes:                  []string{"openid", "profile"},
		RedirectURIs:            []string{"https://app.example/cb"},
		PostLogoutRedirectURIs:  []string{"https://app.example/bye"},
		BackchannelLogoutURI:    "https://app.example/bcl",
		Audience:                []string{"https://api.example"},
		FirstParty:              true,
		RegistrationTokenHash:   hashOf(),
		Anonymous:               true,
		LastUsedAt:              now.Add(-time.Minute),
		Metadata: clients.Metadata{
			ClientURI: "https://app.example", LogoURI: "https://app.example/logo.png",
			TOSURI: "https://app.example/tos", PolicyURI: "https://app.example/privacy",
			Contacts: []string{"ops@app.example"}, SoftwareID: "app", SoftwareVersion: "1.0",
		},
		CreatedAt: now,
		UpdatedAt: now,
	}
}

func checkClient(t *testing.T, got, want *clients.Client) {
	t.Helper()
	if got == nil {
		t.Fatalf("client %q: got nil", want.ID)
	}
	same := got.ID == want.ID && got.Name == want.Name &&
		string(got.SecretHash) == string(want.SecretHash) &&
		string(got.PreviousSecretHash) == string(want.PreviousSecretHash) &&
		sameTime(got.PreviousSecretExpiresAt, want.PreviousSecretExpiresAt) &&
		got.Public == want.Public && got.AuthMethod == want.AuthMethod &&
		slices.Equal(got.GrantTypes, want.GrantTypes) && slices.Equal(got.Scopes, want.Scopes) &&
		slices.Equal(got.RedirectURIs, want.RedirectURIs) && slices.Equal(got.Audience, want.Audience) &&
		slices.Equal(got.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) && got.BackchannelLogoutURI == want.BackchannelLogoutURI &&
		got.FirstParty == want.FirstParty && got.Disabled == want.Disabled &&
		string(got.RegistrationTokenHash) == string(want.RegistrationTokenHash) &&
		reflect.DeepEqual(got.Metadata, want.Metadata) &&
		got.Anonymous == want.Anonymous && sameTime(got.LastUsedAt, want.LastUsedAt) &&
		sameTime(got.CreatedAt, want.CreatedAt) && sameTime(got.UpdatedAt, want.UpdatedAt)
	if !same {
		t.Fatalf("client %q round trip:\n got  %+v\n want %+v", want.ID, got, want)
	}
}

func testClients(t *testing.T, b store.Backend) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		c := newClient(randID("client"))
		if err := b.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		got, err := b.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient: %v", err)
		}
		checkClient(t, got, c)

		// The store keeps a copy: changing what was passed in or handed out
		// must not change what is stored.
		want := *c
		want.GrantTypes = slices.Clone(c.GrantTypes)
		c.Name = "changed"
		c.GrantTypes[0] = "changed"
		got.Name = "changed too"
		got2, err := b.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient: %v", err)
		}
		checkClient(t, got2, &want)
	})

	t.Run("PublicMinimal", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		c := &clients.Client{ID: randID("public"), Public: true, AuthMethod: clients.AuthNone,
			GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}}
		if err := b.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		got, err := b.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient: %v", err)
		}
		checkClient(t, got, c)
		if len(got.SecretHash) != 0 || !got.CreatedAt.IsZero() {
			t.Fatalf("empty fields came back filled: %+v", got)
		}
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		c := newClient(randID("client"))
		if err := b.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		dup := newClient(c.ID)
		dup.Name = "impostor"
		if err := b.CreateClient(ctx, dup); !errors.Is(err, clients.ErrExists) {
			t.Fatalf("CreateClient with a taken ID: got %v, want ErrExists", err)
		}
		got, err := b.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient: %v", err)
		}
		checkClient(t, got, c)
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		id := randID("missing")
		if _, err := b.GetClient(ctx, id); !errors.Is(err, clients.ErrNotFound) {
			t.Fatalf("GetClient(missing): got %v, want ErrNotFound", err)
		}
		if err := b.UpdateClient(ctx, newClient(id)); !errors.Is(err, clients.ErrNotFound) {
			t.Fatalf("UpdateClient(missing): got %v, want ErrNotFound", err)
		}
		if _, err := b.GetClient(ctx, id); !errors.Is(err, clients.ErrNotFound) {
			t.Fatalf("UpdateClient(missing) created the client: %v", err)
		}
		if err := b.DeleteClient(ctx, id); !errors.Is(err, clients.ErrNotFound) {
			t.Fatalf("DeleteClient(missing): got %v, want ErrNotFound", err)
		}
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		c := newClient(randID("client"))
		if err := b.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		u := *c
		u.Name = "renamed"
		u.SecretHash = hashOf()
		u.PreviousSecretHash = nil
		u.PreviousSecretExpiresAt = time.Time{}
		u.Scopes = []string{"email"}
		u.Disabled = true
		u.UpdatedAt = ms(time.Now().Add(time.Minute))
		if err := b.UpdateClient(ctx, &u); err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		got, err := b.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetClient: %v", err)
		}
		checkClient(t, got, &u)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		c := newClient(randID("client"))
		other := newClient(randID("client"))
		for _, x := range []*clients.Client{c, other} {
			if err := b.CreateClient(ctx, x); err != nil {
				t.Fatalf("CreateClient: %v", err)
			}
		}
		if err := b.DeleteClient(ctx, c.ID); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		if _, err := b.GetClient(ctx, c.ID); !errors.Is(err, clients.ErrNotFound) {
			t.Fatalf("GetClient after delete: got %v, want ErrNotFound", err)
		}
		if err := b.DeleteClient(ctx, c.ID); !errors.Is(err, clients.ErrNotFound) {
			t.Fatalf("second DeleteClient: got %v, want ErrNotFound", err)
		}
		if _, err := b.GetClient(ctx, other.ID); err != nil {
			t.Fatalf("DeleteClient removed another client: %v", err)
		}
		// The ID is free again.
		if err := b.CreateClient(ctx, newClient(c.ID)); err != nil {
			t.Fatalf("CreateClient after delete: %v", err)
		}
	})

	t.Run("ListOrderedByID", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		prefix := randID("list") + "-"
		// Created out of order; "b10" < "b9" as strings, which is the order asked for.
		names := []string{"c", "a", "b9", "b10", "d"}
		want := map[string]*clients.Client{}
		for _, n := range names {
			c := newClient(prefix + n)
			want[c.ID] = c
			if err := b.CreateClient(ctx, c); err != nil {
				t.Fatalf("CreateClient: %v", err)
			}
		}
		if err := b.DeleteClient(ctx, prefix+"d"); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		list, err := b.ListClients(ctx)
		if err != nil {
			t.Fatalf("ListClients: %v", err)
		}
		var ids []string
		for _, c := range list {
			if c == nil {
				t.Fatal("ListClients returned a nil client")
			}
			ids = append(ids, c.ID)
		}
		if !slices.IsSorted(ids) {
			t.Fatalf("ListClients not ordered by ID: %q", ids)
		}
		var mine []string
		for _, c := range list {
			if strings.HasPrefix(c.ID, prefix) {
				mine = append(mine, strings.TrimPrefix(c.ID, prefix))
				checkClient(t, c, want[c.ID])
			}
		}
		if w := []string{"a", "b10", "b9", "c"}; !slices.Equal(mine, w) {
			t.Fatalf("ListClients: got %q, want %q", mine, w)
		}
	})
}
