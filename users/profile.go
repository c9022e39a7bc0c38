package users

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Profile is what a user tells about themself: the OpenID Connect standard
// claims (Core 1.0 §5.1), every one optional. sub is the user's ID and
// updated_at is User.UpdatedAt, so neither is here.
type Profile struct {
	Name              string   `json:"name,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	MiddleName        string   `json:"middle_name,omitempty"`
	Nickname          string   `json:"nickname,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	ProfileURL        string   `json:"profile,omitempty"`
	Picture           string   `json:"picture,omitempty"`
	Website           string   `json:"website,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     bool     `json:"email_verified,omitempty"`
	Gender            string   `json:"gender,omitempty"`
	Birthdate         string   `json:"birthdate,omitempty"`
	Zoneinfo          string   `json:"zoneinfo,omitempty"`
	Locale            string   `json:"locale,omitempty"`
	PhoneNumber       string   `json:"phone_number,omitempty"`
	PhoneVerified     bool     `json:"phone_number_verified,omitempty"`
	Address           *Address `json:"address,omitempty"`
}

// Address is the structured address claim (Core 1.0 §5.1.1).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

// Bounds on profile values: generous for people, small enough that a
// profile stays a small record and a small token answer.
const (
	maxClaimBytes     = 256
	maxURLBytes       = 2048
	maxEmailBytes     = 254 // RFC 5321's path limit
	maxFormattedBytes = 1024
)

var (
	// localePattern is BCP 47's shape (language, then subtags), loose enough
	// for "en", "en-US", "zh-Hant-TW"; OIDC allows "_" in place of "-".
	localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$`)
	// zonePattern is an IANA time zone name's shape ("Europe/Paris").
	zonePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`)
	// phonePattern is E.164 with an optional RFC 3966 extension, as §5.1
	// recommends.
	phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}(;ext=[0-9]{1,10})?$`)
)

// Validate checks every set claim; the first problem is a *ValidationError
// naming the claim.
func (p *Profile) Validate() error {
	texts := []struct{ field, value string }{
		{"name", p.Name}, {"given_name", p.GivenName}, {"family_name", p.FamilyName},
		{"middle_name", p.MiddleName}, {"nickname", p.Nickname}, {"preferred_username", p.PreferredUsername},
		{"gender", p.Gender},
	}
	for _, t := range texts {
		if err := checkText(t.field, t.value, maxClaimBytes, false); err != nil {
			return err
		}
	}
	for _, u := range []struct{ field, value string }{{"profile", p.ProfileURL}, {"picture", p.Picture}, {"website", p.Website}} {
		if err := checkURL(u.field, u.value); err != nil {
			return err
		}
	}
	checks := []func() error{p.checkEmail, p.checkPhone, p.checkBirthdate, p.checkZoneAndLocale, p.Address.validate}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkText allows any printable UTF-8 up to max bytes; newlines only
// where multiline is (a formatted address).
func checkText(field, v string, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return &ValidationError{field, "must be valid UTF-8"}
	}
	if len(v) > max {
		return &ValidationError{field, fmt.Sprintf("must be at most %d bytes", max)}
	}
	for _, r := range v {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r')) {
			return &ValidationError{field, "must not contain control characters"}
		}
	}
	return nil
}

// checkURL allows an absolute http or https URL with a host.
func checkURL(field, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxURLBytes {
		return &ValidationError{field, fmt.Sprintf("must be at most %d bytes", maxURLBytes)}
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &ValidationError{field, "must be an absolute https or http URL"}
	}
	return nil
}

func (p *Profile) checkEmail() error {
	if p.Email == "" {
		if p.EmailVerified {
			return &ValidationError{"email_verified", "needs an email"}
		}
		return nil
	}
	if len(p.Email) > maxEmailBytes {
		return &ValidationError{"email", fmt.Sprintf("must be at most %d bytes", maxEmailBytes)}
	}
	// A bare addr-spec: no display name, no comments, no angle brackets.
	a, err := mail.ParseAddress(p.Email)
	if err != nil || a.Name != "" || a.Address != p.Email || !strings.Contains(p.Email, "@") {
		return &ValidationError{"email", "must be an address like alice@example.com"}
	}
	return nil
}

func (p *Profile) checkPhone() error {
	if p.PhoneNumber == "" {
		if p.PhoneVerified {
			return &ValidationError{"phone_number_verified", "needs a phone_number"}
		}
		return nil
	}
	if !phonePattern.MatchString(p.PhoneNumber) {
		return &ValidationError{"phone_number", "must be E.164, like +14155550100 (an extension as ;ext=123)"}
	}
	return nil
}

// checkBirthdate allows §5.1's forms: YYYY-MM-DD, 0000-MM-DD (year
// withheld) and YYYY (only the year).
func (p *Profile) checkBirthdate() error {
	d := p.Birthdate
	if d == "" {
		return nil
	}
	if len(d) == 4 {
		if _, err := time.Parse("2006", d); err == nil && d != "0000" {
			return nil
		}
	} else if len(d) == 10 {
		if strings.HasPrefix(d, "0000-") {
			d = "2000" + d[4:] // a leap year, so 0000-02-29 passes
		}
		if _, err := time.Parse(time.DateOnly, d); err == nil {
			return nil
		}
	}
	return &ValidationError{"birthdate", "must be YYYY-MM-DD, 0000-MM-DD or YYYY"}
}

func (p *Profile) checkZoneAndLocale() error {
	if p.Zoneinfo != "" && (len(p.Zoneinfo) > 64 || !zonePattern.MatchString(p.Zoneinfo)) {
		return &ValidationError{"zoneinfo", "must be a time zone name like Europe/Paris"}
	}
	if p.Locale != "" && (len(p.Locale) > 35 || !localePattern.MatchString(p.Locale)) {
		return &ValidationError{"locale", "must be a BCP 47 language tag like en-US"}
	}
	return nil
}

func (a *Address) validate() error {
	if a == nil {
		return nil
	}
	if err := checkText("address.formatted", a.Formatted, maxFormattedBytes, true); err != nil {
		return err
	}
	parts := []struct{ field, value string }{
		{"address.street_address", a.StreetAddress}, {"address.locality", a.Locality}, {"address.region", a.Region},
		{"address.postal_code", a.PostalCode}, {"address.country", a.Country},
	}
	for _, pt := range parts {
		// street_address may span lines (§5.1.1).
		if err := checkText(pt.field, pt.value, maxClaimBytes, pt.field == "address.street_address"); err != nil {
			return err
		}
	}
	return nil
}

// normalize drops an address with nothing in it, so "no address" has one
// form.
func (p *Profile) normalize() {
	if p.Address != nil && *p.Address == (Address{}) {
		p.Address = nil
	}
}

// SetProfile validates p and stores it as the user's profile; updated_at
// moves on. The ID, and so sub, stays: a new email is the same user.
func (s *Service) SetProfile(ctx context.Context, id string, p Profile) (*User, error) {
	return s.EditProfile(ctx, id, func(cur *Profile) error { *cur = p; return nil })
}

// EditProfile is SetProfile with the new profile made by edit from the
// stored one (a partial update); an error from edit is returned as it is.
func (s *Service) EditProfile(ctx context.Context, id string, edit func(*Profile) error) (*User, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := edit(&u.Profile); err != nil {
		return nil, err
	}
	u.Profile.normalize()
	if err := u.Profile.Validate(); err != nil {
		return nil, err
	}
	u.UpdatedAt = s.now().UTC()
	if err := s.written(ctx, id, s.store.UpdateUser(ctx, u)); err != nil {
		return nil, err
	}
	return u, nil
}
