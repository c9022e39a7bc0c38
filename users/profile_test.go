package users

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestProfileValidate(t *testing.T) {
	ok := []Profile{
		{},
		{Name: "Alice Liddell", Email: "alice@example.com", EmailVerified: true, Locale: "en-US", Zoneinfo: "Europe/London"},
		{ProfileURL: "https://example.com/alice", Picture: "http://img.example.com/a.png", Website: "https://alice.example"},
		{Birthdate: "1852-05-04"}, {Birthdate: "0000-02-29"}, {Birthdate: "1852"},
		{PhoneNumber: "+441632960123", PhoneVerified: true}, {PhoneNumber: "+14155550100;ext=12"},
		{Locale: "zh-Hant-TW"}, {Locale: "fr_CA"},
		{Address: &Address{Formatted: "1 Rabbit Hole\nOxford", Country: "GB"}},
	}
	for _, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := []struct {
		field string
		p     Profile
	}{
		{"email", Profile{Email: "alice"}},
		{"email", Profile{Email: "Alice <alice@example.com>"}},
		{"email", Profile{Email: strings.Repeat("a", 250) + "@example.com"}},
		{"email_verified", Profile{EmailVerified: true}},
		{"picture", Profile{Picture: "/relative.png"}},
		{"website", Profile{Website: "javascript:alert(1)"}},
		{"profile", Profile{ProfileURL: "ftp://example.com/"}},
		{"locale", Profile{Locale: "english please"}},
		{"zoneinfo", Profile{Zoneinfo: "../../etc/passwd"}},
		{"birthdate", Profile{Birthdate: "1852-13-01"}},
		{"birthdate", Profile{Birthdate: "May 4th"}},
		{"phone_number", Profile{PhoneNumber: "01632 960123"}},
		{"phone_number_verified", Profile{PhoneVerified: true}},
		{"name", Profile{Name: strings.Repeat("x", maxClaimBytes+1)}},
		{"nickname", Profile{Nickname: "bell\a"}},
		{"name", Profile{Name: "two\nlines"}},
		{"address.country", Profile{Address: &Address{Country: "\x00"}}},
	}
	for _, c := range bad {
		var ve *ValidationError
		if err := c.p.Validate(); !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%+v: err = %v, want a ValidationError on %s", c.p, err, c.field)
		}
	}
}

func TestSetProfile(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	u, err := s.CreateWithProfile(ctx, "alice", "password-1", Profile{Email: "alice@example.com", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	got, err := s.SetProfile(ctx, u.ID, Profile{Email: "liddell@example.com", Address: &Address{}})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := s.Get(ctx, u.ID)
	if stored.ID != u.ID || stored.Profile.Email != "liddell@example.com" || stored.Profile.Name != "" || stored.Profile.Address != nil {
		t.Errorf("after SetProfile: %+v", stored)
	}
	if !got.UpdatedAt.Equal(clock) || !stored.UpdatedAt.Equal(clock) || !stored.CreatedAt.Equal(clock.Add(-time.Hour)) {
		t.Errorf("updated_at = %v, want %v", stored.UpdatedAt, clock)
	}
	var ve *ValidationError
	if _, err := s.SetProfile(ctx, u.ID, Profile{Email: "nope"}); !errors.As(err, &ve) {
		t.Errorf("bad email: err = %v", err)
	}
	if _, err := s.CreateWithProfile(ctx, "bob", "password-1", Profile{Website: "example.com"}); !errors.As(err, &ve) {
		t.Errorf("create with a bad website: err = %v", err)
	}
	if _, err := s.SetProfile(ctx, "missing", Profile{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: err = %v", err)
	}
}

func TestClaimsPerScope(t *testing.T) {
	u := &User{ID: "u1", UpdatedAt: time.Unix(1700000000, 0), Profile: Profile{
		Name: "Alice", Locale: "en-GB", Email: "alice@example.com", EmailVerified: true,
		PhoneNumber: "+441632960123", Address: &Address{Country: "GB"},
	}}
	cases := []struct {
		scopes []string
		want   []string
	}{
		{nil, []string{"sub"}},
		{[]string{"openid"}, []string{"sub"}},
		{[]string{"openid", "profile"}, []string{"sub", "name", "locale", "updated_at"}},
		{[]string{"openid", "email"}, []string{"sub", "email", "email_verified"}},
		{[]string{"openid", "profile", "email", "phone", "address"},
			[]string{"sub", "name", "locale", "updated_at", "email", "email_verified", "phone_number", "phone_number_verified", "address"}},
	}
	for _, c := range cases {
		got := u.Claims(c.scopes)
		if len(got) != len(c.want) {
			t.Errorf("%v: got %v, want keys %v", c.scopes, got, c.want)
		}
		for _, k := range c.want {
			if _, ok := got[k]; !ok {
				t.Errorf("%v: %s missing from %v", c.scopes, k, got)
			}
		}
	}
	if got := u.Claims([]string{"email"}); got["email_verified"] != true || got["sub"] != "u1" {
		t.Errorf("email claims %v", got)
	}
	if got := (&User{ID: "u2"}).Claims([]string{"profile", "email", "phone", "address"}); len(got) != 1 {
		t.Errorf("a user with no profile released %v", got)
	}
}

// ReleasedClaims is exactly what a full profile releases under every
// scope, so discovery's claims_supported cannot drift from /userinfo.
func TestReleasedClaimsAreWhatClaimsAnswers(t *testing.T) {
	u := &User{ID: "u1", UpdatedAt: time.Unix(1700000000, 0), Profile: Profile{
		Name: "n", FamilyName: "f", GivenName: "g", MiddleName: "m", Nickname: "k", PreferredUsername: "p",
		ProfileURL: "https://p.example/", Picture: "https://p.example/a.png", Website: "https://p.example/",
		Gender: "x", Birthdate: "2000-01-01", Zoneinfo: "Europe/London", Locale: "en-GB",
		Email: "a@example.com", EmailVerified: true, PhoneNumber: "+441632960123", PhoneVerified: true,
		Address: &Address{Country: "GB"},
	}}
	got := u.Claims([]string{ScopeProfile, ScopeEmail, ScopePhone, ScopeAddress})
	delete(got, "sub")
	if len(got) != len(ReleasedClaims) {
		t.Fatalf("a full profile released %d claims, ReleasedClaims lists %d", len(got), len(ReleasedClaims))
	}
	for _, c := range ReleasedClaims {
		if _, ok := got[c]; !ok {
			t.Errorf("ReleasedClaims lists %s, which Claims never answers", c)
		}
	}
}

func TestIssuedInEarlierGeneration(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	clock := time.Date(2030, 1, 1, 0, 0, 10, 500e6, time.UTC)
	s.now = func() time.Time { return clock }
	u := mustCreate(t, s, "carol", "password-1")
	if u.IssuedInEarlierGeneration(clock.Add(-time.Hour)) {
		t.Error("a user never revoked has no earlier generation")
	}
	if err := s.EndUserGeneration(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	u, _ = s.Get(ctx, u.ID)
	sec := clock.Truncate(time.Second)
	if !u.IssuedInEarlierGeneration(sec.Add(-time.Second)) || u.IssuedInEarlierGeneration(sec) || u.IssuedInEarlierGeneration(sec.Add(time.Second)) {
		t.Errorf("generation started %v: wrong judgement around it", u.GenerationStartedAt)
	}
}
