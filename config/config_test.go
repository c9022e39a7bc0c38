package config

import (
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const examplePath = "../deploy/config.example.yaml"

// exampleKeys returns every key path in the example and whether each has a
// comment of its own.
func exampleKeys(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := prefix + k.Value
			keys[path] = k.HeadComment != "" || k.LineComment != "" || v.LineComment != ""
			if v.Kind == yaml.MappingNode {
				walk(v, path+".")
			}
		}
	}
	walk(doc.Content[0], "")
	return keys
}

// structKeys lists every key of Config, sections included.
func structKeys() map[string]bool {
	keys := map[string]bool{}
	for _, l := range leaves(reflect.TypeFor[Config]()) {
		parts := strings.Split(l.key, ".")
		for i := range parts {
			keys[strings.Join(parts[:i+1], ".")] = true
		}
	}
	return keys
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	example := exampleKeys(t)
	want := structKeys()
	var missing, extra, uncommented []string
	for k := range want {
		if _, ok := example[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k, commented := range example {
		if !want[k] {
			extra = append(extra, k)
		}
		if !commented {
			uncommented = append(uncommented, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(uncommented)
	if len(missing) > 0 {
		t.Errorf("keys in Config but not in %s: %v", examplePath, missing)
	}
	if len(extra) > 0 {
		t.Errorf("keys in %s but not in Config: %v", examplePath, extra)
	}
	if len(uncommented) > 0 {
		t.Errorf("keys in %s without a comment: %v", examplePath, uncommented)
	}
}

func TestExampleLoadsAndShowsDefaults(t *testing.T) {
	cfg, err := Load([]string{"--config", examplePath}, nil)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	want := Default()
	want.Tokens.Audience = want.Issuer
	if !reflect.DeepEqual(normalise(cfg), normalise(want)) {
		t.Errorf("example values differ from the defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

// normalise treats a nil and an empty list alike.
func normalise(c *Config) *Config {
	cp := *c
	if len(cp.Redis.Addrs) == 0 {
		cp.Redis.Addrs = nil
	}
	if len(cp.TrustedProxies) == 0 {
		cp.TrustedProxies = nil
	}
	if len(cp.ClientIDMetadata.Scopes) == 0 {
		cp.ClientIDMetadata.Scopes = nil
	}
	if len(cp.Fetch.AllowHosts) == 0 {
		cp.Fetch.AllowHosts = nil
	}
	if len(cp.Fetch.DenyHosts) == 0 {
		cp.Fetch.DenyHosts = nil
	}
	return &cp
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StoreKind() != StoreEmbedded {
		t.Errorf("StoreKind = %q, want embedded", cfg.StoreKind())
	}
	if cfg.Tokens.Audience != cfg.Issuer {
		t.Errorf("audience = %q, want the issuer %q", cfg.Tokens.Audience, cfg.Issuer)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
issuer: https://file.example
listen: ":1000"
admin_listen: "127.0.0.1:1001"
data_dir: /file
tokens:
  access_ttl: 5m
  code_ttl: 30s
scopes: [a, b]
`)
	env := []string{
		"AUTHSERVER_CONFIG=" + file,
		"AUTHSERVER_LISTEN=:2000",
		"AUTHSERVER_DATA_DIR=/env",
		"AUTHSERVER_TOKENS_ACCESS_TTL=7m",
		"AUTHSERVER_SCOPES=x, y ,z",
		"UNRELATED=1",
	}
	args := []string{"--data-dir", "/flag", "--issuer=https://flag.example"}
	cfg, err := Load(args, env)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"issuer (flag over file)", cfg.Issuer, "https://flag.example"},
		{"listen (env over file)", cfg.Listen, ":2000"},
		{"admin_listen (file over default)", cfg.AdminListen, "127.0.0.1:1001"},
		{"data_dir (flag over env over file)", cfg.DataDir, "/flag"},
		{"tokens.access_ttl (env over file)", cfg.Tokens.AccessTTL, 7 * time.Minute},
		{"tokens.code_ttl (file)", cfg.Tokens.CodeTTL, 30 * time.Second},
		{"tokens.refresh_idle_ttl (default)", cfg.Tokens.RefreshIdleTTL, 720 * time.Hour},
		{"scopes (env list)", cfg.Scopes, []string{"x", "y", "z"}},
		{"tokens.audience follows the final issuer", cfg.Tokens.Audience, "https://flag.example"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

func TestFileListReplacesDefault(t *testing.T) {
	cfg, err := Load([]string{"--config", writeFile(t, "scopes: [read]\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Scopes, []string{"read"}) {
		t.Errorf("scopes = %v, want [read]", cfg.Scopes)
	}
}

func TestConfigFlagBeatsEnv(t *testing.T) {
	envFile := writeFile(t, "listen: \":1111\"\n")
	flagFile := writeFile(t, "listen: \":2222\"\n")
	cfg, err := Load([]string{"--config", flagFile}, []string{"AUTHSERVER_CONFIG=" + envFile})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":2222" {
		t.Errorf("listen = %q, want the --config file's :2222", cfg.Listen)
	}
}

func TestEnvEveryKeyIsReachable(t *testing.T) {
	// Every leaf has a variable, and setting it changes the field.
	for _, l := range leaves(reflect.TypeFor[Config]()) {
		cfg := Default()
		field := reflect.ValueOf(cfg).Elem().FieldByIndex(l.index)
		before := reflect.ValueOf(field.Interface())
		var value string
		switch {
		case field.Type() == reflect.TypeFor[time.Duration]():
			value = "3h7m"
		case field.Kind() == reflect.String:
			value = "changed"
		case field.Kind() == reflect.Bool:
			value = strconvBool(!field.Bool())
		case field.Kind() == reflect.Slice:
			value = "p,q"
		default:
			value = "3"
		}
		if err := applyEnv(cfg, envMap([]string{EnvName(l.key) + "=" + value})); err != nil {
			t.Errorf("%s: %v", EnvName(l.key), err)
			continue
		}
		if reflect.DeepEqual(before.Interface(), field.Interface()) {
			t.Errorf("%s=%s did not change %s", EnvName(l.key), value, l.key)
		}
	}
}

func strconvBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestEnvNames(t *testing.T) {
	for key, want := range map[string]string{
		"redis.url":                     "AUTHSERVER_REDIS_URL",
		"tokens.access_ttl":             "AUTHSERVER_TOKENS_ACCESS_TTL",
		"pkce.require_for_confidential": "AUTHSERVER_PKCE_REQUIRE_FOR_CONFIDENTIAL",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestBadEnvValueNamesVariable(t *testing.T) {
	_, err := Load(nil, []string{"AUTHSERVER_TOKENS_ACCESS_TTL=soon"})
	if err == nil || !strings.Contains(err.Error(), "AUTHSERVER_TOKENS_ACCESS_TTL") || !strings.Contains(err.Error(), "tokens.access_ttl") {
		t.Fatalf("err = %v, want it to name the variable and key", err)
	}
	_, err = Load(nil, []string{"AUTHSERVER_PASSWORD_HASH_THREADS=300"})
	if err == nil || !strings.Contains(err.Error(), "password_hash.threads") {
		t.Fatalf("err = %v, want an out-of-range error naming password_hash.threads", err)
	}
}

func TestUnknownKeys(t *testing.T) {
	for _, c := range []struct{ body, key string }{
		{"isuer: https://x\n", `"isuer"`},
		{"redis:\n  urll: redis://x\n", `"redis.urll"`},
		{"tokens:\n  access_ttl: 1m\n  acess_ttl: 2m\n", `"tokens.acess_ttl"`},
	} {
		_, err := Load([]string{"--config", writeFile(t, c.body)}, nil)
		if err == nil || !strings.Contains(err.Error(), "unknown key "+c.key) {
			t.Errorf("%q: err = %v, want unknown key %s", c.body, err, c.key)
		}
	}
}

func TestBadFileValuesNameKey(t *testing.T) {
	for _, c := range []struct{ body, key string }{
		{"tokens:\n  access_ttl: soon\n", "tokens.access_ttl"},
		{"tokens:\n  access_ttl: 15\n", "tokens.access_ttl"}, // a bare number has no unit
		{"password_hash:\n  threads: 300\n", "password_hash.threads"},
		{"redis: [a]\n", "redis"},
		{"pkce:\n  require_for_confidential: maybe\n", "pkce.require_for_confidential"},
	} {
		_, err := Load([]string{"--config", writeFile(t, c.body)}, nil)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: err = %v, want it to name %s", c.body, err, c.key)
		}
	}
}

// A wrong value is named by key and said in the words of its type, not in
// yaml.v3's Go types ("cannot unmarshal !!str into time.Duration").
func TestBadFileValueMessages(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"tokens:\n  access_ttl: 15 minutes\n", `line 2: tokens.access_ttl: "15 minutes" is not a duration`},
		{"tokens:\n  access_ttl: 15\n", `tokens.access_ttl: "15" is not a duration`},
		{"limits:\n  max_body_bytes: lots\n", `limits.max_body_bytes: "lots" is not an integer`},
		{"password_hash:\n  threads: 300\n", `password_hash.threads: "300" is not an integer from 0 to 255`},
		{"pkce:\n  require_for_confidential: maybe\n", `pkce.require_for_confidential: "maybe" is not a boolean`},
		{"scopes: 5\n", `scopes: "5" is not a list of strings`},
		{"issuer: [a, b]\n", `issuer: a list is not a string`},
	} {
		_, err := Load([]string{"--config", writeFile(t, c.body)}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.body, err, c.want)
		}
	}
	_, err := Load(nil, []string{"AUTHSERVER_SESSIONS_TTL=half a day"})
	if want := `AUTHSERVER_SESSIONS_TTL (sessions.ttl): "half a day" is not a duration`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// A misspelt variable would otherwise be ignored and its default used.
func TestUnknownEnvStopsStartUp(t *testing.T) {
	_, err := Load(nil, []string{"AUTHSERVER_TOKENS_ACCES_TTL=1m", "PATH=/bin"})
	if want := "unknown environment variable AUTHSERVER_TOKENS_ACCES_TTL (did you mean AUTHSERVER_TOKENS_ACCESS_TTL?)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	_, err = Load(nil, []string{"AUTHSERVER_NONSENSE=1", "AUTHSERVER_REDISURL=x"})
	if want := "unknown environment variables AUTHSERVER_NONSENSE, AUTHSERVER_REDISURL (did you mean AUTHSERVER_REDIS_URL?)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	// Read elsewhere (the management commands, perform, tests): allowed.
	env := []string{"AUTHSERVER_CONFIG="}
	for _, name := range OtherEnv {
		env = append(env, name+"=x")
	}
	if _, err := Load(nil, env); err != nil {
		t.Errorf("variables read outside config: %v", err)
	}
}

// Every AUTHSERVER_* name the repository mentions is one Load or
// OtherEnv knows, so the check above cannot break a documented variable.
func TestEveryMentionedEnvIsKnown(t *testing.T) {
	re := regexp.MustCompile(`AUTHSERVER_[A-Z0-9_]*[A-Z0-9]`)
	seen := map[string]bool{}
	filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		// Tests misspell names on purpose (this one, the manifest checks);
		// a test that needs a real name fails by itself when it is wrong.
		if d.IsDir() || strings.HasSuffix(d.Name(), "_test.go") || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, "Makefile")) {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, m := range re.FindAllString(string(data), -1) {
			seen[m] = true
		}
		return nil
	})
	if len(seen) < 5 {
		t.Fatalf("found only %v: is the walk reading the repository?", seen)
	}
	delete(seen, "AUTHSERVER_TOKENS_ACCES_TTL") // the README's example of a typo
	for name := range seen {
		if err := checkEnvNames(map[string]string{name: "x"}); err != nil {
			t.Errorf("%s is mentioned in the repository but refused: %v", name, err)
		}
	}
}

func TestLogLevelSetting(t *testing.T) {
	cfg, err := Load(nil, []string{"AUTHSERVER_LOG_LEVEL=DEBUG", "AUTHSERVER_ACCESS_LOG=true"})
	if err != nil || cfg.SlogLevel() != slog.LevelDebug || !cfg.AccessLog {
		t.Fatalf("cfg %+v, err %v: want debug and the access log", cfg, err)
	}
	if Default().SlogLevel() != slog.LevelInfo {
		t.Errorf("default level %v, want info", Default().SlogLevel())
	}
	_, err = Load(nil, []string{"AUTHSERVER_LOG_LEVEL=verbose"})
	if want := `log_level: "verbose" is not one of debug, info, warn, error`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	cfg, err := Load([]string{"--config", writeFile(t, "# nothing\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":8080" {
		t.Errorf("listen = %q", cfg.Listen)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load([]string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, nil); err == nil {
		t.Fatal("missing config file loaded")
	}
}

func TestFlagErrors(t *testing.T) {
	if _, err := Load([]string{"--nope"}, nil); err == nil {
		t.Error("unknown flag accepted")
	}
	if _, err := Load([]string{"stray"}, nil); err == nil {
		t.Error("stray argument accepted")
	}
	_, err := Load([]string{"-h"}, nil)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "-redis-url") {
		t.Errorf("-h: err = %v, want flag.ErrHelp with usage", err)
	}
}

func TestRedisURLFlag(t *testing.T) {
	cfg, err := Load([]string{"--redis-url", "redis://localhost:6379/0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StoreKind() != StoreRedis {
		t.Errorf("StoreKind = %q, want redis", cfg.StoreKind())
	}
}

func TestStoreKind(t *testing.T) {
	for _, c := range []struct {
		redis Redis
		want  string
	}{
		{Redis{}, StoreEmbedded},
		{Redis{URL: "redis://h:6379"}, StoreRedis},
		{Redis{Addrs: []string{"h:26379"}, MasterName: "m"}, StoreSentinel},
		{Redis{Addrs: []string{"h:7000"}, Cluster: true}, StoreCluster},
	} {
		cfg := Default()
		cfg.Redis = c.redis
		if err := cfg.Validate(); err != nil {
			t.Errorf("%+v: %v", c.redis, err)
		}
		if got := cfg.StoreKind(); got != c.want {
			t.Errorf("%+v: StoreKind = %q, want %q", c.redis, got, c.want)
		}
	}
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("s", 32)
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // "" means valid
	}{
		{"issuer empty", func(c *Config) { c.Issuer = "" }, "config: issuer:"},
		{"issuer relative", func(c *Config) { c.Issuer = "/auth" }, "config: issuer:"},
		{"issuer ftp", func(c *Config) { c.Issuer = "ftp://x" }, "config: issuer:"},
		{"issuer query", func(c *Config) { c.Issuer = "https://x/?a=b" }, "config: issuer:"},
		{"issuer fragment", func(c *Config) { c.Issuer = "https://x/#f" }, "config: issuer:"},
		{"issuer user", func(c *Config) { c.Issuer = "https://u:p@x" }, "config: issuer:"},
		{"issuer https path", func(c *Config) { c.Issuer = "https://id.example.com/tenant" }, ""},
		{"listen bad", func(c *Config) { c.Listen = "8080" }, "config: listen:"},
		{"admin_listen bad", func(c *Config) { c.AdminListen = "localhost:http1" }, "config: admin_listen:"},
		{"listeners equal", func(c *Config) { c.AdminListen = c.Listen }, "config: admin_listen: must differ"},
		{"data_dir empty", func(c *Config) { c.DataDir = "" }, "config: data_dir:"},
		{"admin_token short", func(c *Config) { c.AdminToken = "short" }, "config: admin_token:"},
		{"admin_token long", func(c *Config) { c.AdminToken = long }, ""},
		{"secret short", func(c *Config) { c.KeyEncryptionSecret = "short" }, "config: key_encryption_secret:"},
		{"secret long", func(c *Config) { c.KeyEncryptionSecret = long }, ""},
		{"trusted_proxies cidrs", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "::1", "fd00::/8"} }, ""},
		{"trusted_proxies bad", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/40"} }, `config: trusted_proxies: "10.0.0.0/40"`},
		{"tls both", func(c *Config) { c.TLS = TLS{CertFile: "c.pem", KeyFile: "k.pem"} }, ""},
		{"tls cert only", func(c *Config) { c.TLS.CertFile = "c.pem" }, "config: tls.key_file: required"},
		{"tls key only", func(c *Config) { c.TLS.KeyFile = "k.pem" }, "config: tls.cert_file: required"},
		{"redis url bad", func(c *Config) { c.Redis.URL = "http://x" }, "config: redis.url:"},
		{"redis url and addrs", func(c *Config) { c.Redis.URL = "redis://x:1"; c.Redis.Addrs = []string{"y:1"} }, "config: redis.addrs: cannot be combined"},
		{"redis url and cluster", func(c *Config) { c.Redis.URL = "redis://x:1"; c.Redis.Cluster = true }, "config: redis.cluster:"},
		{"redis url and master", func(c *Config) { c.Redis.URL = "redis://x:1"; c.Redis.MasterName = "m" }, "config: redis.master_name:"},
		{"redis url and db", func(c *Config) { c.Redis.URL = "redis://x:1"; c.Redis.DB = 2 }, "config: redis.db:"},
		{"redis url with password", func(c *Config) { c.Redis.URL = "rediss://x:1/3"; c.Redis.Password = "pw" }, ""},
		{"redis addrs alone", func(c *Config) { c.Redis.Addrs = []string{"x:1"} }, "config: redis.addrs: needs"},
		{"sentinel no addrs", func(c *Config) { c.Redis.MasterName = "m" }, "config: redis.addrs: required"},
		{"cluster no addrs", func(c *Config) { c.Redis.Cluster = true }, "config: redis.addrs: required"},
		{"sentinel and cluster", func(c *Config) { c.Redis.Addrs = []string{"x:1"}; c.Redis.MasterName = "m"; c.Redis.Cluster = true }, "config: redis.cluster:"},
		{"cluster db", func(c *Config) { c.Redis.Addrs = []string{"x:1"}; c.Redis.Cluster = true; c.Redis.DB = 1 }, "config: redis.db:"},
		{"sentinel db", func(c *Config) { c.Redis.Addrs = []string{"x:1"}; c.Redis.MasterName = "m"; c.Redis.DB = 1 }, ""},
		{"bad addr", func(c *Config) { c.Redis.Addrs = []string{"x:1", "nope"}; c.Redis.Cluster = true }, "config: redis.addrs[1]:"},
		{"password without redis", func(c *Config) { c.Redis.Password = "pw" }, "config: redis.password:"},
		{"username without redis", func(c *Config) { c.Redis.Username = "u" }, "config: redis.username:"},
		{"negative db", func(c *Config) { c.Redis.Addrs = []string{"x:1"}; c.Redis.MasterName = "m"; c.Redis.DB = -1 }, "config: redis.db:"},
		{"negative pool", func(c *Config) { c.Redis.PoolSize = -1 }, "config: redis.pool_size:"},
		{"prefix braces", func(c *Config) { c.Redis.KeyPrefix = "{a}" }, "config: redis.key_prefix:"},
		{"no scopes", func(c *Config) { c.Scopes = nil }, "config: scopes:"},
		{"scope with space", func(c *Config) { c.Scopes = []string{"a", "b c"} }, "config: scopes[1]:"},
		{"scope with quote", func(c *Config) { c.Scopes = []string{`a"`} }, "config: scopes[0]:"},
		{"scope with backslash", func(c *Config) { c.Scopes = []string{`a\b`} }, "config: scopes[0]:"},
		{"scope non-ascii", func(c *Config) { c.Scopes = []string{"é"} }, "config: scopes[0]:"},
		{"scope empty", func(c *Config) { c.Scopes = []string{""} }, "config: scopes[0]:"},
		{"scope duplicate", func(c *Config) { c.Scopes = []string{"a", "a"} }, "config: scopes[1]: \"a\" is listed twice"},
		{"scope odd but legal", func(c *Config) { c.Scopes = []string{"https://api.example/read!", "a:b"} }, ""},
		{"access_ttl zero", func(c *Config) { c.Tokens.AccessTTL = 0 }, "config: tokens.access_ttl: must be positive"},
		{"idle zero", func(c *Config) { c.Tokens.RefreshIdleTTL = 0 }, "config: tokens.refresh_idle_ttl: must be positive"},
		{"absolute zero", func(c *Config) { c.Tokens.RefreshAbsoluteTTL = 0 }, "config: tokens.refresh_absolute_ttl: must be positive"},
		{"absolute < idle", func(c *Config) { c.Tokens.RefreshAbsoluteTTL = time.Hour; c.Tokens.RefreshIdleTTL = 2 * time.Hour }, "config: tokens.refresh_absolute_ttl: must be at least"},
		{"absolute == idle", func(c *Config) { c.Tokens.RefreshAbsoluteTTL = time.Hour; c.Tokens.RefreshIdleTTL = time.Hour }, ""},
		{"grace negative", func(c *Config) { c.Tokens.RefreshReuseGrace = -time.Second }, "config: tokens.refresh_reuse_grace:"},
		{"grace == idle", func(c *Config) { c.Tokens.RefreshReuseGrace = c.Tokens.RefreshIdleTTL }, "config: tokens.refresh_reuse_grace: must be less"},
		{"grace small", func(c *Config) { c.Tokens.RefreshReuseGrace = 5 * time.Second }, ""},
		{"wait negative", func(c *Config) { c.Redis.WaitReplicas = -1 }, "config: redis.wait_replicas:"},
		{"wait without timeout", func(c *Config) { c.Redis.WaitReplicas, c.Redis.WaitTimeout = 1, 0 }, "config: redis.wait_timeout:"},
		{"wait too long", func(c *Config) { c.Redis.WaitReplicas, c.Redis.WaitTimeout = 1, 2*time.Second }, "config: redis.wait_timeout:"},
		{"wait ok", func(c *Config) { c.Redis.WaitReplicas, c.Redis.WaitTimeout = 1, 50*time.Millisecond }, ""},
		{"code_ttl zero", func(c *Config) { c.Tokens.CodeTTL = 0 }, "config: tokens.code_ttl: must be positive"},
		{"code_ttl long", func(c *Config) { c.Tokens.CodeTTL = 11 * time.Minute }, "config: tokens.code_ttl:"},
		{"audience space", func(c *Config) { c.Tokens.Audience = "a b" }, "config: tokens.audience:"},
		{"alg", func(c *Config) { c.Signing.Alg = "HS256" }, "config: signing.alg:"},
		{"alg RS256", func(c *Config) { c.Signing.Alg = "RS256" }, ""},
		{"alg EdDSA", func(c *Config) { c.Signing.Alg = "EdDSA" }, ""},
		{"publish ahead below cache plus reload", func(c *Config) { c.Signing.PublishAhead = 5*time.Minute + 59*time.Second }, "config: signing.publish_ahead: must be at least signing.jwks_max_age + 1m0s (the key reload interval), here 6m0s"},
		{"publish ahead exactly cache plus reload", func(c *Config) { c.Signing.PublishAhead = 6 * time.Minute }, ""},
		{"publish ahead follows a shorter jwks max age", func(c *Config) { c.Signing.JWKSMaxAge, c.Signing.PublishAhead = 0, time.Minute }, ""},
		{"publish ahead follows a longer jwks max age", func(c *Config) { c.Signing.JWKSMaxAge = time.Hour }, "config: signing.publish_ahead:"},
		{"jwks max age negative", func(c *Config) { c.Signing.JWKSMaxAge = -time.Second }, "config: signing.jwks_max_age:"},
		{"rotate every off", func(c *Config) { c.Signing.RotateEvery = 0 }, ""},
		{"rotate every negative", func(c *Config) { c.Signing.RotateEvery = -time.Hour }, "config: signing.rotate_every:"},
		{"rotate every within publish ahead", func(c *Config) { c.Signing.RotateEvery = 6 * time.Minute }, "config: signing.rotate_every:"},
		{"hash time", func(c *Config) { c.PasswordHash.Time = 0 }, "config: password_hash.time:"},
		{"hash threads", func(c *Config) { c.PasswordHash.Threads = 0 }, "config: password_hash.threads:"},
		{"hash memory small", func(c *Config) { c.PasswordHash.Threads = 4; c.PasswordHash.MemoryKiB = 31 }, "config: password_hash.memory_kib:"},
		{"hash memory in bytes", func(c *Config) { c.PasswordHash.MemoryKiB = 19922944 }, "config: password_hash.memory_kib:"},
		{"limit user", func(c *Config) { c.Limits.PasswordFailuresPerUser = 0 }, "config: limits.password_failures_per_user:"},
		{"limit client", func(c *Config) { c.Limits.PasswordFailuresPerClient = 0 }, "config: limits.password_failures_per_client:"},
		{"limit client auth", func(c *Config) { c.Limits.ClientAuthFailures = -1 }, "config: limits.client_auth_failures:"},
		{"limit ip", func(c *Config) { c.Limits.LoginFailuresPerIP = 0 }, "config: limits.login_failures_per_ip:"},
		{"limit user untrusted", func(c *Config) { c.Limits.PasswordFailuresPerUserUntrusted = 0 }, "config: limits.password_failures_per_user_untrusted:"},
		{"limit in flight", func(c *Config) { c.Limits.PasswordChecksInFlightPerIP = 0 }, "config: limits.password_checks_in_flight_per_ip:"},
		{"device cookie ttl", func(c *Config) { c.Sessions.DeviceCookieTTL = 0 }, "config: sessions.device_cookie_ttl:"},
		{"limit window", func(c *Config) { c.Limits.Window = 0 }, "config: limits.window:"},
		{"max body", func(c *Config) { c.Limits.MaxBodyBytes = 100 }, "config: limits.max_body_bytes:"},
		{"sessions ttl", func(c *Config) { c.Sessions.TTL = 0 }, "config: sessions.ttl:"},
		{"registration no grants", func(c *Config) { c.Registration.AllowedGrantTypes = nil }, "config: registration.allowed_grant_types:"},
		{"registration unknown grant", func(c *Config) { c.Registration.AllowedGrantTypes = []string{"client_credentials", "implicit"} }, "config: registration.allowed_grant_types[1]:"},
		{"registration duplicate grant", func(c *Config) { c.Registration.AllowedGrantTypes = []string{"password", "password"} }, "config: registration.allowed_grant_types[1]: \"password\" is listed twice"},
		{"fetch timeout zero", func(c *Config) { c.Fetch.Timeout = 0 }, "config: fetch.timeout:"},
		{"fetch timeout long", func(c *Config) { c.Fetch.Timeout = 2 * time.Minute }, "config: fetch.timeout:"},
		{"fetch max bytes small", func(c *Config) { c.Fetch.MaxBytes = 100 }, "config: fetch.max_bytes:"},
		{"fetch max bytes huge", func(c *Config) { c.Fetch.MaxBytes = 1 << 30 }, "config: fetch.max_bytes:"},
		{"fetch hosts", func(c *Config) {
			c.Fetch.AllowHosts = []string{"rp.example.com", "*.partner.example"}
			c.Fetch.DenyHosts = []string{"internal.partner.example"}
		}, ""},
		{"fetch allow bad", func(c *Config) { c.Fetch.AllowHosts = []string{"ok.example", "https://x.example"} }, `config: fetch.allow_hosts: fetcher: allow hosts: host pattern [1] "https://x.example"`},
		{"fetch deny bad", func(c *Config) { c.Fetch.DenyHosts = []string{"a.*.example"} }, "config: fetch.deny_hosts:"},
		{"registration one grant", func(c *Config) {
			c.Registration.AllowedGrantTypes = []string{"client_credentials"}
			c.Registration.Open = true
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			c.mutate(cfg)
			err := cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestRedisURLErrorHidesPassword(t *testing.T) {
	cfg := Default()
	cfg.Redis.URL = "redis://user:hunter2@host:notaport/0"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.Tokens.AccessTTL = 0
	cfg.Signing.Alg = "none"
	err := cfg.Validate()
	for _, key := range []string{"tokens.access_ttl", "signing.alg"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("err = %v, want it to name %s", err, key)
		}
	}
}

func TestLoadValidates(t *testing.T) {
	_, err := Load(nil, []string{"AUTHSERVER_TOKENS_ACCESS_TTL=0s"})
	if err == nil || !strings.Contains(err.Error(), "config: tokens.access_ttl: must be positive") {
		t.Fatalf("err = %v", err)
	}
}
