package resources

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateID(t *testing.T) {
	ok := []string{"https://api.example/", "https://api.example", "https://api.example:8443/v1/photos", "http://127.0.0.1:8080/", "http://localhost/", "http://[::1]:9000/api"}
	for _, id := range ok {
		if _, err := Validate(Resource{ID: id, Name: "n", Scopes: []string{"a"}}); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	bad := []string{
		"", "/api", "api.example", "https://api.example/#frag", "https://api.example/#", "https://api.example/?q=1", "https://api.example/?",
		"http://api.example/", "ftp://api.example/", "urn:example:api", "https://user@api.example/", "https:///path",
		"https://api.example/a b", "HTTPS://api.example/", "https://api.example/\x00", "https://api.exämple/",
		"https://api.example/" + strings.Repeat("a", MaxIDLength),
	}
	for _, id := range bad {
		_, err := Validate(Resource{ID: id, Name: "n", Scopes: []string{"a"}})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "id" {
			t.Errorf("%q: got %v, want an id ValidationError", id, err)
		}
	}
}

func TestValidateFields(t *testing.T) {
	base := Resource{ID: "https://api.example/", Name: " Photos API ", Scopes: []string{"photos:read", "photos:write", "photos:read"}, AccessTokenTTL: 10 * time.Minute}
	got, err := Validate(base)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Photos API" || strings.Join(got.Scopes, " ") != "photos:read photos:write" {
		t.Fatalf("cleaned up to %+v", got)
	}
	cases := map[string]func(*Resource){
		"name":             func(r *Resource) { r.Name = "" },
		"name ":            func(r *Resource) { r.Name = strings.Repeat("x", MaxNameLength+1) },
		"name  ":           func(r *Resource) { r.Name = "a\nb" },
		"scopes":           func(r *Resource) { r.Scopes = nil },
		"scopes ":          func(r *Resource) { r.Scopes = []string{"a b"} },
		"scopes  ":         func(r *Resource) { r.Scopes = []string{`"q"`} },
		"access_token_ttl": func(r *Resource) { r.AccessTokenTTL = -time.Second },
		"access_token_ttl ": func(r *Resource) {
			r.AccessTokenTTL = MaxAccessTokenTTL + time.Second
		},
		"access_token_ttl  ": func(r *Resource) { r.AccessTokenTTL = time.Millisecond },
	}
	for name, mutate := range cases {
		r := base
		r.Scopes = append([]string(nil), base.Scopes...)
		mutate(&r)
		_, err := Validate(r)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != strings.TrimSpace(name) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestParseIndicators(t *testing.T) {
	got, err := ParseIndicators([]string{"https://a.example/", "urn:example:b", "https://a.example/"})
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, v := range []string{"", "/relative", "a.example/x", "https://a.example/#f", "https://a.example/ x", "HTTPS://a.example/"} {
		if _, err := ParseIndicators([]string{"https://ok.example/", v}); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
	many := make([]string, MaxIndicators+1)
	for i := range many {
		many[i] = "https://a.example/"
	}
	if _, err := ParseIndicators(many); err == nil {
		t.Error("too many indicators accepted")
	}
}

func TestFor(t *testing.T) {
	a := Resource{ID: "https://a.example/", Scopes: []string{"photos:read", "photos:write"}, AccessTokenTTL: 10 * time.Minute}
	b := Resource{ID: "https://b.example/", Scopes: []string{"mail:read"}}
	granted := "openid photos:read offline_access mail:read profile"
	tt, ok := For([]Resource{a}, granted, 15*time.Minute)
	if !ok || strings.Join(tt.Audience, " ") != a.ID || tt.Scope != "photos:read" || tt.TTL != 10*time.Minute {
		t.Fatalf("A: %+v %v", tt, ok)
	}
	tt, ok = For([]Resource{a, b}, granted, 15*time.Minute)
	if !ok || len(tt.Audience) != 2 || tt.Scope != "photos:read mail:read" || tt.TTL != 10*time.Minute {
		t.Fatalf("A+B: %+v %v", tt, ok)
	}
	// A resource never lengthens the server's lifetime.
	long := Resource{ID: "https://c.example/", Scopes: []string{"mail:read"}, AccessTokenTTL: time.Hour}
	if tt, _ := For([]Resource{long}, granted, 15*time.Minute); tt.TTL != 15*time.Minute {
		t.Fatalf("TTL %v, want the server's", tt.TTL)
	}
	if _, ok := For([]Resource{b}, "openid profile", time.Minute); ok {
		t.Fatal("a token without a scope the resource accepts")
	}
}

func TestSubset(t *testing.T) {
	g := []string{"https://a/", "https://b/"}
	if !Subset(nil, g) || !Subset([]string{"https://b/"}, g) || Subset([]string{"https://c/"}, g) || Subset([]string{"https://a/"}, nil) {
		t.Fatal("Subset is wrong")
	}
}
