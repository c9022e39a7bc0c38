package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"authserver/resources"
	"authserver/store"
	"authserver/tokens"
)

func newResource() resources.Resource {
	return resources.Resource{
		ID:             "https://" + randID("api") + ".example/v1/",
		Name:           "Photos API ☃",
		Scopes:         []string{"photos:read", "photos:write"},
		AccessTokenTTL: 10 * time.Minute,
		CreatedAt:      ms(time.Now()),
	}
}

func checkResource(t *testing.T, got, want resources.Resource) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || !slices.Equal(got.Scopes, want.Scopes) ||
		got.AccessTokenTTL != want.AccessTokenTTL || !sameTime(got.CreatedAt, want.CreatedAt) {
		t.Fatalf("resource round trip:\n got  %+v\n want %+v", got, want)
	}
}

func testResources(t *testing.T, b store.Backend) {
	t.Run("CreateGetDelete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		r := newResource()
		if err := b.CreateResource(ctx, r); err != nil {
			t.Fatalf("CreateResource: %v", err)
		}
		got, err := b.GetResource(ctx, r.ID)
		if err != nil {
			t.Fatalf("GetResource: %v", err)
		}
		checkResource(t, got, r)
		dup := r
		dup.Name = "impostor"
		if err := b.CreateResource(ctx, dup); !errors.Is(err, resources.ErrExists) {
			t.Fatalf("CreateResource with a taken ID: got %v, want ErrExists", err)
		}
		got, _ = b.GetResource(ctx, r.ID)
		checkResource(t, got, r)
		if err := b.DeleteResource(ctx, r.ID); err != nil {
			t.Fatalf("DeleteResource: %v", err)
		}
		if _, err := b.GetResource(ctx, r.ID); !errors.Is(err, resources.ErrNotFound) {
			t.Fatalf("GetResource after delete: got %v, want ErrNotFound", err)
		}
		if err := b.DeleteResource(ctx, r.ID); !errors.Is(err, resources.ErrNotFound) {
			t.Fatalf("DeleteResource again: got %v, want ErrNotFound", err)
		}
	})

	t.Run("IDsThatLookLikeKeys", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// Braces, colons and a path that would be a hash tag or a key
		// separator in a naive key scheme, and two IDs that differ only
		// in the last byte.
		a := newResource()
		a.ID = "https://api.example/" + randID("x") + "/{fam:1}:a"
		c := a
		c.ID = strings.TrimSuffix(a.ID, "a") + "b"
		c.Name = "other"
		for _, r := range []resources.Resource{a, c} {
			if err := b.CreateResource(ctx, r); err != nil {
				t.Fatalf("CreateResource(%q): %v", r.ID, err)
			}
		}
		for _, r := range []resources.Resource{a, c} {
			got, err := b.GetResource(ctx, r.ID)
			if err != nil {
				t.Fatalf("GetResource(%q): %v", r.ID, err)
			}
			checkResource(t, got, r)
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		mine := []resources.Resource{newResource(), newResource(), newResource()}
		for _, r := range mine {
			if err := b.CreateResource(ctx, r); err != nil {
				t.Fatalf("CreateResource: %v", err)
			}
		}
		if err := b.DeleteResource(ctx, mine[2].ID); err != nil {
			t.Fatal(err)
		}
		list, err := b.ListResources(ctx)
		if err != nil {
			t.Fatalf("ListResources: %v", err)
		}
		if !slices.IsSortedFunc(list, func(x, y resources.Resource) int { return strings.Compare(x.ID, y.ID) }) {
			t.Fatal("ListResources is not in ID order")
		}
		for i, want := range mine {
			idx := slices.IndexFunc(list, func(r resources.Resource) bool { return r.ID == want.ID })
			if (idx >= 0) != (i < 2) {
				t.Fatalf("resource %d listed: %v", i, idx >= 0)
			}
			if idx >= 0 {
				checkResource(t, list[idx], want)
			}
		}
	})

	// The resources of a code and of a family round-trip, and rotation
	// leaves a family's alone.
	t.Run("CodeAndFamilyResources", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		want := []string{"https://a.example/", "https://b.example/x"}
		c := newCode(time.Now().Add(time.Minute))
		c.Resources = want
		h := hashOf()
		if err := b.SaveCode(ctx, h, c); err != nil {
			t.Fatal(err)
		}
		got, err := b.RedeemCode(ctx, h, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Resources, want) {
			t.Fatalf("code resources: got %v, want %v", got.Resources, want)
		}
		f, cur := makeFamily(t, b, func(f *tokens.Family) { f.Resources = want })
		next := hashOf()
		rot, _, err := b.RotateRefresh(ctx, tokens.Rotation{FamilyID: f.ID, ClientID: f.ClientID, Presented: cur, Next: next, NextJTI: "j", Now: time.Now(), Idle: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rot.Resources, want) || !slices.Equal(getFamily(t, b, f.ID).Resources, want) {
			t.Fatalf("family resources after rotation: %v", rot.Resources)
		}
	})
}
