package config

import (
	"fmt"
	"slices"
)

// anonymous checks registration.anonymous_*: they matter only when
// registration.anonymous is on, but are checked always so turning it on
// cannot meet a bad value.
func (v *validator) anonymous(r *Registration) {
	if r.AnonymousPerIPPerHour < 1 {
		v.add("registration.anonymous_per_ip_per_hour", "must be at least 1")
	}
	v.positive("registration.anonymous_unused_ttl", r.AnonymousUnusedTTL)
	if r.Open && r.Anonymous {
		v.add("registration.anonymous", "cannot be set with registration.open: open already takes any client without a token, anonymous only public ones")
	}
}

func (v *validator) clientIDMetadata(m *ClientIDMetadata, scopes []string) {
	v.positive("client_id_metadata.min_cache_ttl", m.MinCacheTTL)
	v.positive("client_id_metadata.max_cache_ttl", m.MaxCacheTTL)
	v.positive("client_id_metadata.error_cache_ttl", m.ErrorCacheTTL)
	if m.MaxCacheTTL < m.MinCacheTTL {
		v.add("client_id_metadata.max_cache_ttl", "must be at least client_id_metadata.min_cache_ttl")
	}
	for _, s := range m.Scopes {
		if !slices.Contains(scopes, s) {
			v.add("client_id_metadata.scopes", fmt.Sprintf("%q is not one of the server's scopes", s))
		}
	}
}
