package users

import "slices"

// Scopes that release profile claims (OpenID Connect Core 1.0 §5.4).
const (
	ScopeProfile = "profile"
	ScopeEmail   = "email"
	ScopePhone   = "phone"
	ScopeAddress = "address"
)

// ReleasedClaims names every claim Claims can answer besides sub: what
// discovery lists as claims_supported.
var ReleasedClaims = []string{
	"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
	"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
	"email", "email_verified", "phone_number", "phone_number_verified", "address",
}

// Claims returns sub and the claims of u the granted scopes release, set
// ones only: what the UserInfo endpoint answers.
func (u *User) Claims(scopes []string) map[string]any {
	out := map[string]any{"sub": u.ID}
	p := &u.Profile
	set := func(name, v string) {
		if v != "" {
			out[name] = v
		}
	}
	if slices.Contains(scopes, ScopeProfile) {
		for _, c := range []struct{ name, v string }{
			{"name", p.Name}, {"family_name", p.FamilyName}, {"given_name", p.GivenName},
			{"middle_name", p.MiddleName}, {"nickname", p.Nickname}, {"preferred_username", p.PreferredUsername},
			{"profile", p.ProfileURL}, {"picture", p.Picture}, {"website", p.Website}, {"gender", p.Gender},
			{"birthdate", p.Birthdate}, {"zoneinfo", p.Zoneinfo}, {"locale", p.Locale},
		} {
			set(c.name, c.v)
		}
		if !u.UpdatedAt.IsZero() {
			out["updated_at"] = u.UpdatedAt.Unix() // §5.1: seconds since the epoch
		}
	}
	// *_verified only beside the value it vouches for.
	if slices.Contains(scopes, ScopeEmail) && p.Email != "" {
		out["email"], out["email_verified"] = p.Email, p.EmailVerified
	}
	if slices.Contains(scopes, ScopePhone) && p.PhoneNumber != "" {
		out["phone_number"], out["phone_number_verified"] = p.PhoneNumber, p.PhoneVerified
	}
	if slices.Contains(scopes, ScopeAddress) && p.Address != nil {
		out["address"] = p.Address
	}
	return out
}
