package resources

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"authserver/clients"
)

// Bounds of a registration.
const (
	MaxIDLength       = 512
	MaxNameLength     = 200
	MaxScopes         = 100
	MaxAccessTokenTTL = 24 * time.Hour
	// MaxIndicators bounds the resource parameters of one request.
	MaxIndicators = 16
)

// ValidationError says which field of a registration is wrong.
type ValidationError struct {
	Field, Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// Validate checks a registration and returns it cleaned up (scopes
// deduplicated, name trimmed).
func Validate(r Resource) (Resource, error) {
	if err := validateID(r.ID); err != nil {
		return r, err
	}
	r.Name = strings.TrimSpace(r.Name)
	switch {
	case r.Name == "":
		return r, invalid("name", "is required")
	case len(r.Name) > MaxNameLength:
		return r, invalid("name", fmt.Sprintf("is longer than %d bytes", MaxNameLength))
	case !printable(r.Name):
		return r, invalid("name", "holds control characters")
	}
	var scopes []string
	for _, s := range r.Scopes {
		if !validScopeToken(s) {
			return r, invalid("scopes", "a scope is empty or holds characters RFC 6749 §3.3 does not allow")
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	switch {
	case len(scopes) == 0:
		// A token for the resource carries only scopes it accepts, so one
		// that accepts none could never be asked for.
		return r, invalid("scopes", "at least one scope is required")
	case len(scopes) > MaxScopes:
		return r, invalid("scopes", fmt.Sprintf("more than %d scopes", MaxScopes))
	}
	r.Scopes = scopes
	if r.AccessTokenTTL < 0 || r.AccessTokenTTL > MaxAccessTokenTTL {
		return r, invalid("access_token_ttl", fmt.Sprintf("must be between 0 (the server's) and %s", MaxAccessTokenTTL))
	}
	if r.AccessTokenTTL != 0 && r.AccessTokenTTL < time.Second {
		return r, invalid("access_token_ttl", "must be at least 1s")
	}
	return r, nil
}

// validateID applies the registration rules to an identifier: those of a
// resource parameter (ParseIndicator), plus https (http only on a
// loopback host, for development), a host, no user info and no query
// (RFC 8707 §2 says SHOULD NOT; refusing it keeps identifiers plain).
func validateID(id string) error {
	if len(id) > MaxIDLength {
		return invalid("id", fmt.Sprintf("is longer than %d bytes", MaxIDLength))
	}
	u, err := parseIndicator(id)
	if err != nil {
		return invalid("id", err.Error())
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return invalid("id", "must name a host")
	case u.User != nil:
		return invalid("id", "must not carry user info")
	case u.RawQuery != "" || u.ForceQuery:
		return invalid("id", "must not have a query")
	case u.Scheme == "https":
	case u.Scheme == "http" && clients.IsLoopbackHost(u.Hostname()):
	default:
		return invalid("id", "must be https (http only on a loopback host)")
	}
	return nil
}

// ParseIndicator checks one resource parameter (RFC 8707 §2): an absolute
// URI without a fragment. It says nothing of whether it is registered.
func ParseIndicator(raw string) error {
	if len(raw) > MaxIDLength {
		return fmt.Errorf("a resource is longer than %d bytes", MaxIDLength)
	}
	_, err := parseIndicator(raw)
	return err
}

func parseIndicator(raw string) (*url.URL, error) {
	for i := 0; i < len(raw); i++ {
		if raw[i] <= 0x20 || raw[i] >= 0x7f {
			return nil, fmt.Errorf("a resource holds a space, a control or a non-ASCII character")
		}
	}
	if strings.Contains(raw, "#") {
		return nil, fmt.Errorf("a resource must not have a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("a resource must be an absolute URI")
	}
	if scheme, _, _ := strings.Cut(raw, ":"); scheme != strings.ToLower(scheme) {
		// Exact comparison would tell HTTPS:// and https:// apart.
		return nil, fmt.Errorf("a resource's scheme must be lower case")
	}
	return u, nil
}

// ParseIndicators checks the resource parameters of one request and
// returns them without repeats, in order.
func ParseIndicators(values []string) ([]string, error) {
	if len(values) > MaxIndicators {
		return nil, fmt.Errorf("more than %d resource parameters", MaxIndicators)
	}
	var out []string
	for _, v := range values {
		if err := ParseIndicator(v); err != nil {
			return nil, err
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validScopeToken is RFC 6749 §3.3's scope-token (clients.ParseScope's rule).
func validScopeToken(tok string) bool {
	got, ok := clients.ParseScope(tok)
	return ok && len(got) == 1 && got[0] == tok
}
