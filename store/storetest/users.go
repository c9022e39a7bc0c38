package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"authserver/store"
	"authserver/users"
)

func newUser(id, username string) *users.User {
	now := ms(time.Now())
	return &users.User{
		ID:           id,
		Username:     username,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$" + randID("salt") + "$" + randID("hash"),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}

func checkUser(t *testing.T, got, want *users.User) {
	t.Helper()
	if got == nil {
		t.Fatalf("user %q: got nil", want.ID)
	}
	if got.ID != want.ID || got.Username != want.Username || got.PasswordHash != want.PasswordHash ||
		got.Disabled != want.Disabled || !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.UpdatedAt, want.UpdatedAt) ||
		got.Generation != want.Generation || !sameTime(got.GenerationStartedAt, want.GenerationStartedAt) ||
		!reflect.DeepEqual(got.Profile, want.Profile) {
		t.Fatalf("user round trip:\n got  %+v\n want %+v", got, want)
	}
}

func testUsers(t *testing.T, b store.Backend) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := newUser(randID("user"), randID("alice"))
		if err := b.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		got, err := b.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		checkUser(t, got, u)
		got, err = b.GetUserByUsername(ctx, u.Username)
		if err != nil {
			t.Fatalf("GetUserByUsername: %v", err)
		}
		checkUser(t, got, u)

		want := *u
		u.PasswordHash = "changed"
		got.PasswordHash = "changed too"
		got, err = b.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		checkUser(t, got, &want)
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := newUser(randID("user"), randID("bob"))
		if err := b.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		sameName := newUser(randID("user"), u.Username)
		if err := b.CreateUser(ctx, sameName); !errors.Is(err, users.ErrExists) {
			t.Fatalf("CreateUser with a taken username: got %v, want ErrExists", err)
		}
		if _, err := b.GetUser(ctx, sameName.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("rejected user was stored: %v", err)
		}
		sameID := newUser(u.ID, randID("carol"))
		if err := b.CreateUser(ctx, sameID); !errors.Is(err, users.ErrExists) {
			t.Fatalf("CreateUser with a taken ID: got %v, want ErrExists", err)
		}
		if _, err := b.GetUserByUsername(ctx, sameID.Username); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("rejected user's username was stored: %v", err)
		}
		got, err := b.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		checkUser(t, got, u)
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := newUser(randID("missing"), randID("nobody"))
		if _, err := b.GetUser(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("GetUser(missing): got %v, want ErrNotFound", err)
		}
		if _, err := b.GetUserByUsername(ctx, u.Username); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("GetUserByUsername(missing): got %v, want ErrNotFound", err)
		}
		if err := b.UpdateUser(ctx, u); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("UpdateUser(missing): got %v, want ErrNotFound", err)
		}
		if _, err := b.GetUser(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("UpdateUser(missing) created the user: %v", err)
		}
		if err := b.DeleteUser(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("DeleteUser(missing): got %v, want ErrNotFound", err)
		}
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := newUser(randID("user"), randID("dave"))
		if err := b.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		v := *u
		v.PasswordHash = "$argon2id$new"
		v.Disabled = true
		v.UpdatedAt = ms(time.Now().Add(time.Minute))
		if err := b.UpdateUser(ctx, &v); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		got, err := b.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		checkUser(t, got, &v)
		got, err = b.GetUserByUsername(ctx, u.Username)
		if err != nil {
			t.Fatalf("GetUserByUsername after update: %v", err)
		}
		checkUser(t, got, &v)
	})

	t.Run("Profile", func(t *testing.T) {
		t.Parallel()
		testUserProfile(t, b)
	})

	t.Run("DeleteFreesUsername", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		u := newUser(randID("user"), randID("erin"))
		if err := b.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if err := b.DeleteUser(ctx, u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := b.GetUser(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("GetUser after delete: got %v, want ErrNotFound", err)
		}
		if _, err := b.GetUserByUsername(ctx, u.Username); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("GetUserByUsername after delete: got %v, want ErrNotFound", err)
		}
		if err := b.DeleteUser(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("second DeleteUser: got %v, want ErrNotFound", err)
		}
		again := newUser(randID("user"), u.Username)
		if err := b.CreateUser(ctx, again); err != nil {
			t.Fatalf("CreateUser with a freed username: %v", err)
		}
		got, err := b.GetUserByUsername(ctx, u.Username)
		if err != nil {
			t.Fatalf("GetUserByUsername: %v", err)
		}
		checkUser(t, got, again)
		if _, err := b.GetUser(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("deleted user came back: %v", err)
		}
	})

	t.Run("ListOrderedByUsername", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		prefix := randID("list") + "-"
		// IDs sort the opposite way to usernames, so ordering by ID shows.
		names := []string{"mallory", "alice", "zoe", "bob", "trent"}
		ids := []string{"5", "4", "3", "2", "1"}
		want := map[string]*users.User{}
		for i, n := range names {
			u := newUser(prefix+ids[i], prefix+n)
			want[u.Username] = u
			if err := b.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
		}
		if err := b.DeleteUser(ctx, prefix+"1"); err != nil { // trent
			t.Fatalf("DeleteUser: %v", err)
		}
		list, err := b.ListUsers(ctx)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		var all, mine []string
		for _, u := range list {
			if u == nil {
				t.Fatal("ListUsers returned a nil user")
			}
			all = append(all, u.Username)
			if strings.HasPrefix(u.Username, prefix) {
				mine = append(mine, strings.TrimPrefix(u.Username, prefix))
				checkUser(t, u, want[u.Username])
			}
		}
		if !slices.IsSorted(all) {
			t.Fatalf("ListUsers not ordered by username: %q", all)
		}
		if w := []string{"alice", "bob", "mallory", "zoe"}; !slices.Equal(mine, w) {
			t.Fatalf("ListUsers: got %q, want %q", mine, w)
		}
	})
}

// fullProfile sets every profile claim, so a backend that drops one shows.
func fullProfile() users.Profile {
	return users.Profile{
		Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell", MiddleName: "Pleasance",
		Nickname: "Al", PreferredUsername: "alice", ProfileURL: "https://example.com/alice",
		Picture: "https://example.com/alice.png", Website: "http://alice.example", Email: "alice@example.com",
		EmailVerified: true, Gender: "female", Birthdate: "1852-05-04", Zoneinfo: "Europe/London", Locale: "en-GB",
		PhoneNumber: "+441632960123", PhoneVerified: true,
		Address: &users.Address{Formatted: "Christ Church\nOxford", StreetAddress: "St Aldate's", Locality: "Oxford",
			Region: "Oxfordshire", PostalCode: "OX1 1DP", Country: "GB"},
	}
}

// testUserProfile: the profile claims round-trip through create and
// update, a user without any loads with none set, and an update's
// updated_at and generation are kept.
func testUserProfile(t *testing.T, b store.Backend) {
	ctx := t.Context()
	bare := newUser(randID("user"), randID("plain"))
	if err := b.CreateUser(ctx, bare); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err := b.GetUser(ctx, bare.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !reflect.DeepEqual(got.Profile, users.Profile{}) || !got.GenerationStartedAt.IsZero() {
		t.Fatalf("a user created without a profile came back with %+v", got)
	}

	u := newUser(randID("user"), randID("liddell"))
	u.Profile = fullProfile()
	if err := b.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err = b.GetUserByUsername(ctx, u.Username)
	if err != nil {
		t.Fatalf("GetUserByUsername: %v", err)
	}
	checkUser(t, got, u)

	v := *u
	v.Profile = users.Profile{Email: "liddell@example.org", Address: &users.Address{Country: "NZ"}}
	v.Generation, v.GenerationStartedAt = 3, ms(time.Now().Add(time.Second))
	v.UpdatedAt = ms(time.Now().Add(time.Minute))
	if err := b.UpdateUser(ctx, &v); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got, err = b.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	checkUser(t, got, &v)
	list, err := b.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	for _, l := range list {
		if l.ID == u.ID {
			checkUser(t, l, &v)
		}
	}
}
