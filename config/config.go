// Package config holds the server's one typed configuration and loads it from
// defaults, a YAML file, AUTHSERVER_* environment variables and flags, in that
// order, each layer overriding the one before.
package config

import (
	"log/slog"
	"time"
)

// Config is the whole server configuration. The yaml tags are the key names
// in the file; each leaf also has an environment variable derived from its
// path (redis.url → AUTHSERVER_REDIS_URL). deploy/config.example.yaml
// documents every key, and a test keeps the two in step.
type Config struct {
	// Issuer is the iss of every token and the base of the metadata URL.
	Issuer string `yaml:"issuer"`
	// Listen is the public listener (token, authorize, jwks, ...).
	Listen string `yaml:"listen"`
	// AdminListen is the admin listener; keep it off public interfaces.
	AdminListen string `yaml:"admin_listen"`
	// DataDir holds the embedded store and generated secrets.
	DataDir string `yaml:"data_dir"`
	// AdminToken guards the admin API; empty means the server generates one
	// into DataDir on first start.
	AdminToken string `yaml:"admin_token"`
	// KeyEncryptionSecret seals signing keys at rest; empty means the server
	// generates one into DataDir. Nodes sharing a Redis store must share it.
	KeyEncryptionSecret string `yaml:"key_encryption_secret"`
	// LogLevel is the least severe level logged: debug, info, warn, error.
	LogLevel string `yaml:"log_level"`
	// AccessLog logs one line per request (audit.AccessLog).
	AccessLog bool `yaml:"access_log"`
	// TrustedProxies are the CIDRs of reverse proxies whose forwarding
	// headers name the client (ratelimit.Proxies); empty trusts none.
	TrustedProxies []string `yaml:"trusted_proxies"`

	TLS TLS `yaml:"tls"`

	Redis        Redis        `yaml:"redis"`
	Scopes       []string     `yaml:"scopes"`
	Tokens       Tokens       `yaml:"tokens"`
	Signing      Signing      `yaml:"signing"`
	PasswordHash PasswordHash `yaml:"password_hash"`
	Limits       Limits       `yaml:"limits"`
	PKCE         PKCE         `yaml:"pkce"`
	DPoP         DPoP         `yaml:"dpop"`
	Sessions     Sessions     `yaml:"sessions"`
	Registration Registration `yaml:"registration"`
	// ClientIDMetadata accepts client IDs that are URLs of a client
	// metadata document (see ClientIDMetadata).
	ClientIDMetadata ClientIDMetadata `yaml:"client_id_metadata"`
	// Fetch bounds every request the server makes to a URL a client gave
	// (back-channel logout receivers, documents such as a jwks_uri).
	Fetch    Fetch    `yaml:"fetch"`
	Shutdown Shutdown `yaml:"shutdown"`
}

// TLS makes the public listener serve HTTPS (and HTTP/2). Both files or
// neither; the pair is re-read when the files change.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Redis selects and configures the Redis store. Exactly one of URL,
// Addrs+MasterName (Sentinel) or Addrs+Cluster may be set; none means the
// embedded store.
type Redis struct {
	URL        string   `yaml:"url"`
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	Cluster    bool     `yaml:"cluster"`
	Username   string   `yaml:"username"`
	Password   string   `yaml:"password"`
	DB         int      `yaml:"db"`
	// PoolSize is connections per node; 0 keeps go-redis's default.
	PoolSize  int    `yaml:"pool_size"`
	KeyPrefix string `yaml:"key_prefix"`
	// WaitReplicas makes each refresh-family write wait (WAIT) until this
	// many replicas have it, for at most WaitTimeout; 0 does not wait.
	WaitReplicas int           `yaml:"wait_replicas"`
	WaitTimeout  time.Duration `yaml:"wait_timeout"`
}

// Tokens holds token lifetimes and the default audience.
type Tokens struct {
	AccessTTL          time.Duration `yaml:"access_ttl"`
	RefreshIdleTTL     time.Duration `yaml:"refresh_idle_ttl"`
	RefreshAbsoluteTTL time.Duration `yaml:"refresh_absolute_ttl"`
	// RefreshReuseGrace lets a just-rotated refresh token be presented again
	// while its successor is unused (a client retrying after a lost
	// response), answered with the same successor; 0 turns it off.
	RefreshReuseGrace time.Duration `yaml:"refresh_reuse_grace"`
	CodeTTL           time.Duration `yaml:"code_ttl"`
	// IDTokenTTL is the lifetime of OpenID Connect ID Tokens; 0 means
	// AccessTTL (grants.Config.IDTokenTTL).
	IDTokenTTL time.Duration `yaml:"id_token_ttl"`
	// Audience is the aud of access tokens when the client names none;
	// Load fills it with the issuer when left empty.
	Audience string `yaml:"audience"`
	// RefreshWithoutOfflineAccess gives a refresh token to every client
	// allowed the refresh_token grant; false: only when offline_access
	// was granted.
	RefreshWithoutOfflineAccess bool `yaml:"refresh_without_offline_access"`
}

// Signing chooses the algorithm of the signing key and its lifecycle.
type Signing struct {
	Alg string `yaml:"alg"`
	// PublishAhead is how long a rotated key is in JWKS before it signs:
	// at least JWKSMaxAge plus KeyReloadInterval, so every cached JWKS and
	// every node knows a key before a token it signed can reach them.
	PublishAhead time.Duration `yaml:"publish_ahead"`
	// JWKSMaxAge is the Cache-Control max-age of /jwks.
	JWKSMaxAge time.Duration `yaml:"jwks_max_age"`
	// RotateEvery is how long each key signs before a scheduled rotation
	// replaces it; 0 turns scheduled rotation off.
	RotateEvery time.Duration `yaml:"rotate_every"`
}

// KeyReloadInterval is how often every node re-reads the key set, the
// safety net should a change announcement be lost.
const KeyReloadInterval = time.Minute

// MinPublishAhead is the shortest signing.publish_ahead that jwksMaxAge
// allows.
func MinPublishAhead(jwksMaxAge time.Duration) time.Duration {
	return jwksMaxAge + KeyReloadInterval
}

// PasswordHash holds the argon2id cost parameters for user passwords.
type PasswordHash struct {
	Time      uint32 `yaml:"time"`
	MemoryKiB uint32 `yaml:"memory_kib"`
	Threads   uint8  `yaml:"threads"`
}

// Limits holds rate limits (counted per Window) and request size limits.
type Limits struct {
	// PasswordFailuresPerUser is per (username, source) and per device
	// cookie; PasswordFailuresPerUserUntrusted is per username over every
	// source without a device cookie.
	PasswordFailuresPerUser          int `yaml:"password_failures_per_user"`
	PasswordFailuresPerUserUntrusted int `yaml:"password_failures_per_user_untrusted"`
	PasswordFailuresPerClient        int `yaml:"password_failures_per_client"`
	ClientAuthFailures               int `yaml:"client_auth_failures"`
	LoginFailuresPerIP               int `yaml:"login_failures_per_ip"`
	// PasswordChecksInFlightPerIP bounds the password checks one address
	// may have waiting or running on a node; it is not counted per window.
	PasswordChecksInFlightPerIP int           `yaml:"password_checks_in_flight_per_ip"`
	Window                      time.Duration `yaml:"window"`
	MaxBodyBytes                int64         `yaml:"max_body_bytes"`
}

// PKCE holds PKCE policy beyond the always-on requirement for public clients.
type PKCE struct {
	RequireForConfidential bool `yaml:"require_for_confidential"`
}

// DPoP is the policy of DPoP proofs (RFC 9449) at /token and /userinfo.
type DPoP struct {
	// RequireNonce makes every proof carry a nonce the server handed out
	// (RFC 9449 §8), which bounds how long a proof made ahead of time is
	// good for.
	RequireNonce bool `yaml:"require_nonce"`
}

// Sessions configures browser sign-in sessions.
type Sessions struct {
	TTL time.Duration `yaml:"ttl"`
	// DeviceCookieTTL is the lifetime of the device cookie a browser gets
	// at sign-in, which keeps its attempts apart from a guesser's.
	DeviceCookieTTL time.Duration `yaml:"device_cookie_ttl"`
}

// Fetch is the policy of outbound requests to client-given URLs
// (fetcher.Config): https only, to public addresses only.
type Fetch struct {
	// Timeout bounds one whole exchange, the body read included.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBytes caps a response body.
	MaxBytes int64 `yaml:"max_bytes"`
	// AllowHosts, when not empty, are the only hosts fetched from:
	// "example.com" exactly, "*.example.com" any subdomain.
	AllowHosts []string `yaml:"allow_hosts"`
	// DenyHosts are never fetched from, whatever AllowHosts says.
	DenyHosts []string `yaml:"deny_hosts"`
	// AllowLoopback lets requests go to loopback addresses, over http://
	// too, which are otherwise refused with every other internal address:
	// for tests and local development only.
	AllowLoopback bool `yaml:"allow_loopback"`
	// CAFile is a PEM file of CA certificates trusted besides the system
	// roots: for tests and local development.
	CAFile string `yaml:"ca_file"`
}

// Registration is the policy of dynamic client registration (RFC 7591,
// POST /register).
type Registration struct {
	// Open lets anyone register a client without an initial access token.
	Open bool `yaml:"open"`
	// AllowedGrantTypes are the grant types a registering client may ask
	// for.
	AllowedGrantTypes []string `yaml:"allowed_grant_types"`
	// Anonymous lets anyone register a public client without an initial
	// access token, within narrow rules (registration.AnonymousPolicy).
	Anonymous bool `yaml:"anonymous"`
	// AnonymousPerIPPerHour bounds anonymous registrations per source
	// address per hour.
	AnonymousPerIPPerHour int `yaml:"anonymous_per_ip_per_hour"`
	// AnonymousUnusedTTL deletes an anonymous client that got no token for
	// this long.
	AnonymousUnusedTTL time.Duration `yaml:"anonymous_unused_ttl"`
}

// ClientIDMetadata is the policy of client ID metadata documents
// (package cimd). Which hosts may serve one is fetch.allow_hosts and
// fetch.deny_hosts.
type ClientIDMetadata struct {
	Enabled bool `yaml:"enabled"`
	// Scopes bound what such a client may be granted; empty: the scopes
	// the server advertises.
	Scopes []string `yaml:"scopes"`
	// MinCacheTTL and MaxCacheTTL bound how long a document is cached
	// whatever its cache headers say; ErrorCacheTTL is how long a failed
	// fetch is remembered.
	MinCacheTTL   time.Duration `yaml:"min_cache_ttl"`
	MaxCacheTTL   time.Duration `yaml:"max_cache_ttl"`
	ErrorCacheTTL time.Duration `yaml:"error_cache_ttl"`
}

// Shutdown is how a node stops on SIGTERM.
type Shutdown struct {
	// DrainDelay is how long /readyz answers 503 while the listeners still
	// serve, so load balancers stop sending before connections close.
	DrainDelay time.Duration `yaml:"drain_delay"`
}

// Store kinds returned by StoreKind.
const (
	StoreEmbedded = "embedded"
	StoreRedis    = "redis"
	StoreSentinel = "sentinel"
	StoreCluster  = "cluster"
)

// Default returns the configuration used when nothing overrides it.
func Default() *Config {
	return &Config{
		Issuer:      "http://localhost:8080",
		Listen:      ":8080",
		AdminListen: "127.0.0.1:8081",
		DataDir:     "./data",
		LogLevel:    "info",
		Redis: Redis{
			KeyPrefix:   "authserver:",
			WaitTimeout: 100 * time.Millisecond,
		},
		// "openid" asks for an OpenID Connect ID Token beside the access
		// token; a client that does not ask for it gets plain OAuth.
		Scopes: []string{"openid", "profile", "email", "offline_access"},
		Tokens: Tokens{
			AccessTTL:          15 * time.Minute,
			RefreshIdleTTL:     720 * time.Hour,
			RefreshAbsoluteTTL: 2160 * time.Hour,
			RefreshReuseGrace:  30 * time.Second,
			CodeTTL:            60 * time.Second,
			// The MCP SDKs never ask for offline_access.
			RefreshWithoutOfflineAccess: true,
		},
		Signing: Signing{
			Alg:          "ES256",
			PublishAhead: 6 * time.Minute,
			JWKSMaxAge:   5 * time.Minute,
			RotateEvery:  720 * time.Hour,
		},
		PasswordHash: PasswordHash{
			Time:      2,
			MemoryKiB: 19456, // OWASP's argon2id minimum: 19 MiB, t=2, p=1
			Threads:   1,
		},
		Limits: Limits{
			PasswordFailuresPerUser:          5,
			PasswordFailuresPerUserUntrusted: 100,
			PasswordFailuresPerClient:        100,
			ClientAuthFailures:               20,
			LoginFailuresPerIP:               20,
			PasswordChecksInFlightPerIP:      2,
			Window:                           15 * time.Minute,
			MaxBodyBytes:                     65536,
		},
		PKCE:     PKCE{RequireForConfidential: true},
		Sessions: Sessions{TTL: 12 * time.Hour, DeviceCookieTTL: 180 * 24 * time.Hour},
		Registration: Registration{
			// No password grant: RFC 9700 §2.4 keeps it from third parties,
			// who would see the users' passwords. An admin may add it.
			AllowedGrantTypes:     []string{"authorization_code", "client_credentials", "refresh_token"},
			AnonymousPerIPPerHour: 20,
			AnonymousUnusedTTL:    30 * 24 * time.Hour,
		},
		ClientIDMetadata: ClientIDMetadata{
			Enabled:       true,
			MinCacheTTL:   5 * time.Minute,
			MaxCacheTTL:   24 * time.Hour,
			ErrorCacheTTL: 30 * time.Second,
		},
		Fetch:    Fetch{Timeout: 5 * time.Second, MaxBytes: 65536},
		Shutdown: Shutdown{DrainDelay: 5 * time.Second},
	}
}

// SlogLevel is LogLevel as a slog.Level; it assumes a validated
// configuration.
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(c.LogLevel))
	return l
}

// StoreKind names the store the configuration selects: "embedded", "redis",
// "sentinel" or "cluster". It assumes a validated configuration.
func (c *Config) StoreKind() string {
	switch {
	case c.Redis.URL != "":
		return StoreRedis
	case len(c.Redis.Addrs) > 0 && c.Redis.MasterName != "":
		return StoreSentinel
	case len(c.Redis.Addrs) > 0 && c.Redis.Cluster:
		return StoreCluster
	default:
		return StoreEmbedded
	}
}
