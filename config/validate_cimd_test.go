package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateAnonymousAndClientIDMetadata(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // "" means valid
	}{
		{"anonymous on", func(c *Config) { c.Registration.Anonymous = true }, ""},
		{"anonymous with open", func(c *Config) { c.Registration.Anonymous, c.Registration.Open = true, true }, "registration.anonymous: cannot be set with registration.open"},
		{"anonymous quota 0", func(c *Config) { c.Registration.AnonymousPerIPPerHour = 0 }, "registration.anonymous_per_ip_per_hour"},
		{"anonymous ttl 0", func(c *Config) { c.Registration.AnonymousUnusedTTL = 0 }, "registration.anonymous_unused_ttl"},
		{"cimd scopes known", func(c *Config) { c.ClientIDMetadata.Scopes = []string{"profile"} }, ""},
		{"cimd scope unknown", func(c *Config) { c.ClientIDMetadata.Scopes = []string{"admin"} }, `client_id_metadata.scopes: "admin"`},
		{"cimd max below min", func(c *Config) { c.ClientIDMetadata.MaxCacheTTL = time.Minute }, "client_id_metadata.max_cache_ttl"},
		{"cimd error ttl 0", func(c *Config) { c.ClientIDMetadata.ErrorCacheTTL = 0 }, "client_id_metadata.error_cache_ttl"},
	}
	for _, tc := range cases {
		cfg := Default()
		tc.mutate(cfg)
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
