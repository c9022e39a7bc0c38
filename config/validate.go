package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/fetcher"
	"authserver/ratelimit"
)

// Validate reports every invalid setting, each as "config: <key>: <reason>".
// An empty tokens.audience is accepted: it means the issuer (Load fills it in).
func (c *Config) Validate() error {
	var v validator
	v.issuer(c.Issuer)
	v.hostPort("listen", c.Listen)
	v.hostPort("admin_listen", c.AdminListen)
	if c.Listen != "" && c.Listen == c.AdminListen {
		v.add("admin_listen", "must differ from listen")
	}
	if strings.TrimSpace(c.DataDir) == "" {
		v.add("data_dir", "must not be empty")
	}
	// Shorter secrets would be guessable; generated ones are 64 characters.
	if c.AdminToken != "" && len(c.AdminToken) < minSecretLen {
		v.add("admin_token", fmt.Sprintf("must be at least %d characters (or empty to generate one)", minSecretLen))
	}
	if c.KeyEncryptionSecret != "" && len(c.KeyEncryptionSecret) < minSecretLen {
		v.add("key_encryption_secret", fmt.Sprintf("must be at least %d characters (or empty to generate one)", minSecretLen))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		v.add("log_level", fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel))
	}
	if _, err := ratelimit.ParseProxies(c.TrustedProxies); err != nil {
		v.add("trusted_proxies", err.Error())
	}
	v.tls(&c.TLS)
	v.redis(&c.Redis)
	v.scopes(c.Scopes)
	v.tokens(&c.Tokens)
	v.signing(&c.Signing)
	v.passwordHash(&c.PasswordHash)
	v.limits(&c.Limits)
	v.positive("sessions.ttl", c.Sessions.TTL)
	v.positive("sessions.device_cookie_ttl", c.Sessions.DeviceCookieTTL)
	v.registration(&c.Registration)
	v.clientIDMetadata(&c.ClientIDMetadata, c.Scopes)
	v.fetch(&c.Fetch)
	if c.Shutdown.DrainDelay < 0 {
		v.add("shutdown.drain_delay", "cannot be negative")
	}
	return errors.Join(v.errs...)
}

const minSecretLen = 32

type validator struct{ errs []error }

func (v *validator) add(key, reason string) {
	v.errs = append(v.errs, fmt.Errorf("config: %s: %s", key, reason))
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be positive")
	}
}

func (v *validator) issuer(s string) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		v.add("issuer", "must not be empty")
	case err != nil:
		v.add("issuer", "not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		v.add("issuer", "must be an absolute http or https URL")
	case u.Host == "":
		v.add("issuer", "must have a host")
	case u.User != nil:
		v.add("issuer", "must not contain user information")
	case strings.ContainsAny(s, "?#"):
		// RFC 8414 §2: the issuer has no query or fragment.
		v.add("issuer", "must not have a query or fragment")
	}
}

func (v *validator) hostPort(key, s string) {
	if s == "" {
		v.add(key, "must not be empty")
		return
	}
	if err := checkHostPort(s); err != nil {
		v.add(key, err.Error())
	}
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port number", s)
	}
	return nil
}

// tls checks only the pairing; the files are read when the node starts
// (app), which names the key of the file that fails.
func (v *validator) tls(t *TLS) {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.add("tls.key_file", "required with tls.cert_file")
	case t.CertFile == "" && t.KeyFile != "":
		v.add("tls.cert_file", "required with tls.key_file")
	}
}

func (v *validator) redis(r *Redis) {
	sentinel := r.MasterName != ""
	switch {
	case r.URL != "":
		if len(r.Addrs) > 0 {
			v.add("redis.addrs", "cannot be combined with redis.url")
		}
		if sentinel {
			v.add("redis.master_name", "cannot be combined with redis.url")
		}
		if r.Cluster {
			v.add("redis.cluster", "cannot be combined with redis.url")
		}
		// The parse error is not quoted: it may echo a password in the URL.
		if _, err := redis.ParseURL(r.URL); err != nil {
			v.add("redis.url", "not a valid redis://, rediss:// or unix:// URL")
		}
		if r.DB != 0 {
			v.add("redis.db", "give the database in redis.url instead")
		}
	case sentinel && r.Cluster:
		v.add("redis.cluster", "cannot be combined with redis.master_name (Sentinel)")
	case sentinel || r.Cluster:
		if len(r.Addrs) == 0 {
			mode := "redis.master_name"
			if r.Cluster {
				mode = "redis.cluster"
			}
			v.add("redis.addrs", "required with "+mode)
		}
		if r.Cluster && r.DB != 0 {
			v.add("redis.db", "must be 0 with redis.cluster (Cluster has only database 0)")
		}
	case len(r.Addrs) > 0:
		v.add("redis.addrs", "needs redis.master_name (Sentinel) or redis.cluster: true; use redis.url for a single server")
	default:
		// Embedded store: Redis credentials here are a mistake, not a no-op.
		if r.Username != "" {
			v.add("redis.username", "set but no Redis server is configured")
		}
		if r.Password != "" {
			v.add("redis.password", "set but no Redis server is configured")
		}
	}
	if r.WaitReplicas < 0 {
		v.add("redis.wait_replicas", "must not be negative (0 does not wait)")
	}
	// A WAIT longer than the bound on one store call would turn a slow
	// replica into an outage of the master.
	if r.WaitReplicas > 0 && (r.WaitTimeout <= 0 || r.WaitTimeout > time.Second) {
		v.add("redis.wait_timeout", "must be more than 0 and at most 1s with redis.wait_replicas")
	}
	for i, a := range r.Addrs {
		if err := checkHostPort(a); err != nil {
			v.add(fmt.Sprintf("redis.addrs[%d]", i), err.Error())
		}
	}
	if r.DB < 0 {
		v.add("redis.db", "must not be negative")
	}
	if r.PoolSize < 0 {
		v.add("redis.pool_size", "must not be negative (0 keeps the client default)")
	}
	// Braces would hijack the {hash-tag} that keeps related keys on one
	// Cluster slot.
	if strings.ContainsAny(r.KeyPrefix, "{} \t\r\n") {
		v.add("redis.key_prefix", "must not contain braces or whitespace")
	}
}

func (v *validator) scopes(scopes []string) {
	if len(scopes) == 0 {
		v.add("scopes", "must list at least one scope")
	}
	seen := map[string]bool{}
	for i, s := range scopes {
		if !ValidScope(s) {
			v.add(fmt.Sprintf("scopes[%d]", i), fmt.Sprintf("%q is not a scope token (RFC 6749 §3.3)", s))
		}
		if seen[s] {
			v.add(fmt.Sprintf("scopes[%d]", i), fmt.Sprintf("%q is listed twice", s))
		}
		seen[s] = true
	}
}

// ValidScope reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ), i.e. printable ASCII without space, '"'
// or '\'.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (v *validator) tokens(t *Tokens) {
	v.positive("tokens.access_ttl", t.AccessTTL)
	v.positive("tokens.refresh_idle_ttl", t.RefreshIdleTTL)
	v.positive("tokens.refresh_absolute_ttl", t.RefreshAbsoluteTTL)
	if t.RefreshAbsoluteTTL > 0 && t.RefreshAbsoluteTTL < t.RefreshIdleTTL {
		v.add("tokens.refresh_absolute_ttl", "must be at least tokens.refresh_idle_ttl")
	}
	if t.RefreshReuseGrace < 0 {
		v.add("tokens.refresh_reuse_grace", "must not be negative (0 turns it off)")
	} else if t.RefreshIdleTTL > 0 && t.RefreshReuseGrace >= t.RefreshIdleTTL {
		v.add("tokens.refresh_reuse_grace", "must be less than tokens.refresh_idle_ttl")
	}
	v.positive("tokens.code_ttl", t.CodeTTL)
	// RFC 6749 §4.1.2: a maximum code lifetime of 10 minutes is recommended.
	if t.CodeTTL > 10*time.Minute {
		v.add("tokens.code_ttl", "must be at most 10m (RFC 6749 §4.1.2)")
	}
	if t.IDTokenTTL < 0 {
		v.add("tokens.id_token_ttl", "must not be negative (0 means tokens.access_ttl)")
	}
	if strings.ContainsAny(t.Audience, " \t\r\n") {
		v.add("tokens.audience", "must not contain whitespace")
	}
}

func (v *validator) signing(s *Signing) {
	switch s.Alg {
	case "ES256", "RS256", "EdDSA":
	default:
		v.add("signing.alg", fmt.Sprintf("%q is not one of ES256, RS256, EdDSA", s.Alg))
	}
	if s.JWKSMaxAge < 0 {
		v.add("signing.jwks_max_age", "must not be negative")
	}
	// Shorter, and a resource server holding a cached JWKS, or a node that
	// has not reloaded, would reject the new key's first tokens.
	if minimum := MinPublishAhead(s.JWKSMaxAge); s.PublishAhead < minimum {
		v.add("signing.publish_ahead", fmt.Sprintf("must be at least signing.jwks_max_age + %v (the key reload interval), here %v", KeyReloadInterval, minimum))
	}
	if s.RotateEvery < 0 {
		v.add("signing.rotate_every", "must not be negative (0 turns scheduled rotation off)")
	} else if s.RotateEvery > 0 && s.RotateEvery <= s.PublishAhead {
		v.add("signing.rotate_every", "must be 0 (off) or longer than signing.publish_ahead")
	}
}

func (v *validator) passwordHash(p *PasswordHash) {
	if p.Time < 1 {
		v.add("password_hash.time", "must be at least 1")
	}
	if p.Threads < 1 {
		v.add("password_hash.threads", "must be at least 1")
	}
	// Argon2 needs 8 KiB per lane; the upper bound catches a value given
	// in bytes rather than KiB.
	switch {
	case p.MemoryKiB < 8*uint32(max(p.Threads, 1)):
		v.add("password_hash.memory_kib", "must be at least 8 × password_hash.threads")
	case p.MemoryKiB > 4<<20:
		v.add("password_hash.memory_kib", "must be at most 4194304 (4 GiB); the unit is KiB")
	}
}

func (v *validator) limits(l *Limits) {
	for _, c := range []struct {
		key string
		n   int
	}{
		{"limits.password_failures_per_user", l.PasswordFailuresPerUser},
		{"limits.password_failures_per_user_untrusted", l.PasswordFailuresPerUserUntrusted},
		{"limits.password_failures_per_client", l.PasswordFailuresPerClient},
		{"limits.client_auth_failures", l.ClientAuthFailures},
		{"limits.login_failures_per_ip", l.LoginFailuresPerIP},
		{"limits.password_checks_in_flight_per_ip", l.PasswordChecksInFlightPerIP},
	} {
		if c.n < 1 {
			v.add(c.key, "must be at least 1")
		}
	}
	v.positive("limits.window", l.Window)
	// Below 1 KiB an ordinary token request with a long redirect URI fails.
	if l.MaxBodyBytes < 1024 {
		v.add("limits.max_body_bytes", "must be at least 1024")
	}
}

// grantTypes are the grant types the server implements (clients.KnownGrantTypes).
var grantTypes = []string{"authorization_code", "client_credentials", "password", "refresh_token"}

func (v *validator) registration(r *Registration) {
	v.anonymous(r)
	if len(r.AllowedGrantTypes) == 0 {
		v.add("registration.allowed_grant_types", "must list at least one grant type")
	}
	seen := map[string]bool{}
	for i, g := range r.AllowedGrantTypes {
		key := fmt.Sprintf("registration.allowed_grant_types[%d]", i)
		if !slices.Contains(grantTypes, g) {
			v.add(key, fmt.Sprintf("%q is not one of %s", g, strings.Join(grantTypes, ", ")))
		}
		if seen[g] {
			v.add(key, fmt.Sprintf("%q is listed twice", g))
		}
		seen[g] = true
	}
}

func (v *validator) fetch(f *Fetch) {
	// Long enough for a slow but honest server; a longer one would let a
	// client's URL hold a worker (or a request) for minutes.
	if f.Timeout <= 0 || f.Timeout > time.Minute {
		v.add("fetch.timeout", "must be more than 0 and at most 1m")
	}
	// Every body is held in memory, and JWKS or metadata documents are small.
	if f.MaxBytes < 1024 || f.MaxBytes > 16<<20 {
		v.add("fetch.max_bytes", "must be from 1024 to 16777216 (16 MiB)")
	}
	// The fetcher is the one judge of a host pattern.
	if _, err := fetcher.New(fetcher.Config{AllowHosts: f.AllowHosts}); err != nil {
		v.add("fetch.allow_hosts", err.Error())
	}
	if _, err := fetcher.New(fetcher.Config{DenyHosts: f.DenyHosts}); err != nil {
		v.add("fetch.deny_hosts", err.Error())
	}
}
