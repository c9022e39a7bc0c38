package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "AUTHSERVER_"

// EnvConfigFile names the config file when --config is not given.
const EnvConfigFile = EnvPrefix + "CONFIG"

// OtherEnv are the AUTHSERVER_* variables read by something other than
// Load; every other AUTHSERVER_* name in the environment of serve is a
// mistake (most often a typo) and stops start-up, instead of being ignored.
var OtherEnv = []string{
	EnvPrefix + "ADMIN_URL",         // the management commands' admin API address
	EnvPrefix + "CLIENT_ID",         // perform
	EnvPrefix + "CLIENT_SECRET",     // perform
	EnvPrefix + "EMBEDDED_CRASH_DB", // store/embedded's crash test child
}

type flagKey struct{ name, key, usage string }

// flagKeys maps each command-line flag to the key it overrides. Only the
// settings that differ per node or per run get a flag; the rest live in the
// file or the environment.
func flagKeys() []flagKey {
	return []flagKey{
		{"issuer", "issuer", "issuer URL (iss of every token)"},
		{"listen", "listen", "public listen address"},
		{"admin-listen", "admin_listen", "admin listen address"},
		{"data-dir", "data_dir", "directory for the embedded store and generated secrets"},
		{"redis-url", "redis.url", "Redis URL (redis://, rediss:// or unix://); empty uses the embedded store"},
	}
}

// Load builds the configuration from defaults, then the YAML file named by
// --config or AUTHSERVER_CONFIG, then AUTHSERVER_* variables in environ, then
// the flags in args (without the program name), and validates the result.
func Load(args []string, environ []string) (*Config, error) {
	fs := flag.NewFlagSet("authserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller decides where errors and usage go
	configPath := fs.String("config", "", "YAML config file (default $"+EnvConfigFile+")")
	flags := flagKeys()
	flagValues := make(map[string]*string, len(flags))
	for _, f := range flags {
		flagValues[f.name] = fs.String(f.name, "", f.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var usage bytes.Buffer
			fs.SetOutput(&usage)
			fs.PrintDefaults()
			return nil, fmt.Errorf("%w\nflags:\n%s", flag.ErrHelp, usage.String())
		}
		return nil, fmt.Errorf("config: flags: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: flags: unexpected argument %q", fs.Arg(0))
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })

	env := envMap(environ)
	path, ok := env[EnvConfigFile]
	if setFlags["config"] {
		path, ok = *configPath, true
	}

	cfg := Default()
	if ok && path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(cfg, data); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(cfg, env); err != nil {
		return nil, err
	}
	for _, f := range flags {
		if !setFlags[f.name] {
			continue
		}
		if err := setKey(cfg, f.key, *flagValues[f.name]); err != nil {
			return nil, fmt.Errorf("config: --%s: %w", f.name, err)
		}
	}
	// The audience follows the issuer unless set, whichever layer set the issuer.
	if cfg.Tokens.Audience == "" {
		cfg.Tokens.Audience = cfg.Issuer
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// EnvName is the environment variable that sets a key, e.g. "redis.url" →
// "AUTHSERVER_REDIS_URL".
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// KeyEnvNames is every environment variable Load reads: the config file's
// and one per configuration key. Deployment files are checked against it.
func KeyEnvNames() []string {
	names := []string{EnvConfigFile}
	for _, l := range leaves(reflect.TypeFor[Config]()) {
		names = append(names, EnvName(l.key))
	}
	return names
}

// envMap turns "K=V" entries into a map; later entries win, as in a shell.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func applyEnv(cfg *Config, env map[string]string) error {
	if err := checkEnvNames(env); err != nil {
		return err
	}
	for _, l := range leaves(reflect.TypeOf(*cfg)) {
		name := EnvName(l.key)
		v, ok := env[name]
		if !ok {
			continue
		}
		if err := setString(reflect.ValueOf(cfg).Elem().FieldByIndex(l.index), v); err != nil {
			return fmt.Errorf("config: %s (%s): %w", name, l.key, err)
		}
	}
	return nil
}

// checkEnvNames refuses AUTHSERVER_* variables that nothing reads, naming
// each with the closest known name.
func checkEnvNames(env map[string]string) error {
	known := append(KeyEnvNames(), OtherEnv...)
	var bad []string
	for name := range env {
		if !strings.HasPrefix(name, EnvPrefix) || slices.Contains(known, name) {
			continue
		}
		msg := name
		if guess := closest(name, known); guess != "" {
			msg += " (did you mean " + guess + "?)"
		}
		bad = append(bad, msg)
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	what := "variable"
	if len(bad) > 1 {
		what = "variables"
	}
	return fmt.Errorf("config: unknown environment %s %s", what, strings.Join(bad, ", "))
}

// closest returns the name in known nearest to name by edit distance, or ""
// when none is near enough to be a likely typo.
func closest(name string, known []string) string {
	best, bestD := "", 4 // more than 3 edits is a different name, not a typo
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes: the
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// leaf is one settable key: its dotted YAML path and where it lives.
type leaf struct {
	key   string
	index []int
}

// leaves lists every leaf key of a config struct type, in field order.
func leaves(t reflect.Type) []leaf {
	var out []leaf
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+name+".", idx)
				continue
			}
			out = append(out, leaf{key: prefix + name, index: idx})
		}
	}
	walk(t, "", nil)
	return out
}

// yamlName is the key a field has in YAML, or "" for fields YAML skips.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func setKey(cfg *Config, key, value string) error {
	for _, l := range leaves(reflect.TypeOf(*cfg)) {
		if l.key == key {
			return setString(reflect.ValueOf(cfg).Elem().FieldByIndex(l.index), value)
		}
	}
	return fmt.Errorf("no config key %q", key)
}

// setString parses s into v by v's type; lists are comma-separated.
func setString(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not %s", s, wantText(v.Type()))
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not %s", s, wantText(v.Type()))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not %s", s, wantText(v.Type()))
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not %s", s, wantText(v.Type()))
		}
		v.SetUint(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", v.Type())
		}
		items := []string{}
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// decodeYAML decodes one YAML document onto cfg key by key, so that an
// unknown key or a bad value is reported with its full dotted path.
func decodeYAML(cfg *Config, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file keeps the defaults
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return decodeMapping(root, reflect.ValueOf(cfg).Elem(), "")
}

func decodeMapping(n *yaml.Node, v reflect.Value, prefix string) error {
	if n.Kind != yaml.MappingNode {
		what := "the top level"
		if prefix != "" {
			what = strings.TrimSuffix(prefix, ".")
		}
		return fmt.Errorf("line %d: %s must be a mapping of keys", n.Line, what)
	}
	fields := map[string]int{}
	for i := range v.NumField() {
		if name := yamlName(v.Type().Field(i)); name != "" {
			fields[name] = i
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		idx, ok := fields[k.Value]
		if !ok {
			return fmt.Errorf("line %d: unknown key %q", k.Line, key)
		}
		fv := v.Field(idx)
		if fv.Kind() == reflect.Struct {
			if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
				continue // "redis:" with nothing under it
			}
			if err := decodeMapping(val, fv, key+"."); err != nil {
				return err
			}
			continue
		}
		if err := val.Decode(fv.Addr().Interface()); err != nil {
			return fmt.Errorf("line %d: %s: %s", val.Line, key, decodeErrText(val, fv.Type(), err))
		}
	}
	return nil
}

// decodeErrText says what is wrong with a value in the words of the key's
// type ("15 minutes" is not a duration), rather than yaml.v3's Go types.
func decodeErrText(n *yaml.Node, t reflect.Type, err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		switch {
		case n.Kind == yaml.ScalarNode:
			return fmt.Sprintf("%q is not %s", n.Value, wantText(t))
		case n.Kind == yaml.MappingNode:
			return "a mapping is not " + wantText(t)
		case n.Kind == yaml.SequenceNode && t.Kind() != reflect.Slice:
			return "a list is not " + wantText(t)
		}
	}
	return strings.TrimPrefix(yamlErrText(err), "yaml: ")
}

// wantText describes the values a key of type t takes.
func wantText(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration (a number with a unit: 90s, 15m, 12h)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("an integer from %d to %d", -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("an integer from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.Slice:
		return "a list of strings"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

// yamlErrText flattens yaml.v3's multi-line TypeError into one line.
func yamlErrText(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for i, e := range te.Errors {
			// Drop yaml.v3's own "line N: " prefix; the caller adds the key.
			if _, rest, ok := strings.Cut(e, ": "); ok && strings.HasPrefix(e, "line ") {
				te.Errors[i] = rest
			}
		}
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}
