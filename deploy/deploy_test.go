// Package deploy_test checks the deployment files in deploy/ against the
// server they deploy: the image is built and its binary run, and every
// AUTHSERVER_* name they use must be a real config key.
package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"authserver/config"
)

// configEnvNames is every environment variable config.Load reads.
func configEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, n := range config.KeyEnvNames() {
		names[n] = true
	}
	// Guard the derivation itself: these are documented names.
	for _, n := range []string{"AUTHSERVER_REDIS_URL", "AUTHSERVER_TOKENS_ACCESS_TTL", "AUTHSERVER_KEY_ENCRYPTION_SECRET"} {
		if !names[n] {
			t.Fatalf("derived config names lack %s: %v", n, names)
		}
	}
	return names
}

func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	valid := configEnvNames(t)
	for _, n := range names {
		if strings.HasPrefix(n, config.EnvPrefix) && !valid[n] {
			t.Errorf("%s: %s is not a config key", where, n)
		}
	}
}

// needPodman returns the podman path, or skips when this machine cannot
// build images. Under CI the Makefile installs podman, so a missing or
// broken podman there is a failure, not a skip.
func needPodman(t *testing.T) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	path, err := exec.LookPath("podman")
	if err != nil {
		fail("podman not installed (make deps installs it): %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, path, "info", "--format", "{{.Store.GraphRoot}}").CombinedOutput(); err != nil {
		fail("podman cannot run here: %v\n%s", err, out)
		return ""
	}
	return path
}

func run(t *testing.T, timeout time.Duration, dir, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v (after %v)\n%s", name, strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond), stderr.Bytes())
	}
	t.Logf("%s %s: %v", filepath.Base(name), args[0], time.Since(start).Round(time.Millisecond))
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return port
}

// TestImage builds deploy/Dockerfile the way its header says, checks the
// image (non-root, entrypoint, ports, volume, size), then copies the binary
// out of a created container and runs it with the image's environment:
// containers cannot be started here, so the host runs what the image holds.
func TestImage(t *testing.T) {
	podman := needPodman(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}

	// The build context holds only what the Dockerfile copies, laid out as
	// its header builds it under deploy/build.
	buildCtx := t.TempDir()
	build := filepath.Join(buildCtx, "deploy", "build")
	if err := os.MkdirAll(filepath.Join(build, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(build, "authserver")
	// A cold build cache takes minutes here; a warm one seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/authserver")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("static go build: %v", time.Since(start).Round(time.Millisecond))
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("host CA bundle (ca-certificates): %v", err)
	}
	if err := os.WriteFile(filepath.Join(build, "ca-certificates.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}

	// --no-cache: podman 4.3 reuses a cached COPY layer across a changed
	// --chown, which would hide a broken Dockerfile.
	tag := fmt.Sprintf("localhost/authserver-test:%d-%d", os.Getpid(), time.Now().UnixNano())
	run(t, 2*time.Minute, buildCtx, podman, "build", "--quiet", "--no-cache", "-f", filepath.Join(root, "deploy", "Dockerfile"), "-t", tag, buildCtx)
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", tag).Run() })

	var images []struct {
		Size   int64
		Config struct {
			User         string
			Entrypoint   []string
			Env          []string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
		}
	}
	if err := json.Unmarshal(run(t, time.Minute, "", podman, "image", "inspect", tag), &images); err != nil || len(images) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(images))
	}
	img := images[0]
	uid, gid, _ := strings.Cut(img.Config.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("image user %q: want a numeric non-root uid (a name needs /etc/passwd, which scratch lacks)", img.Config.User)
	}
	if n, err := strconv.Atoi(gid); gid != "" && (err != nil || n == 0) {
		t.Errorf("image group %q: want a numeric non-root gid", gid)
	}
	if want := []string{"/authserver", "serve"}; !slices.Equal(img.Config.Entrypoint, want) {
		t.Errorf("entrypoint %q, want %q", img.Config.Entrypoint, want)
	}
	// The binary is about 32 MB; much more means something else got in.
	if img.Size <= 0 || img.Size > 60<<20 {
		t.Errorf("image size %d bytes, want at most 60 MiB", img.Size)
	}
	env := map[string]string{}
	var envNames []string
	for _, kv := range img.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		envNames = append(envNames, k)
	}
	checkEnvNames(t, "image ENV", envNames)
	for _, key := range []string{"listen", "admin_listen"} {
		addr := env[config.EnvName(key)]
		if _, ok := img.Config.ExposedPorts[portOf(t, addr)+"/tcp"]; !ok {
			t.Errorf("%s=%q is not an exposed port %v", config.EnvName(key), addr, img.Config.ExposedPorts)
		}
		if host, _, _ := net.SplitHostPort(addr); host != "" {
			t.Errorf("%s=%q: inside a container the listener must not be bound to one host", config.EnvName(key), addr)
		}
	}
	dataDir := env[config.EnvName("data_dir")]
	if _, ok := img.Config.Volumes[dataDir]; !ok || dataDir == "" {
		t.Errorf("data dir %q is not a volume %v", dataDir, img.Config.Volumes)
	}

	name := strings.NewReplacer("localhost/", "", ":", "-").Replace(tag)
	run(t, time.Minute, "", podman, "create", "--name", name, tag)
	t.Cleanup(func() { exec.Command(podman, "rm", "--force", name).Run() })

	// The volume takes the owner of the image's directory, so the server
	// user must own it to write its store there.
	files := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(run(t, time.Minute, "", podman, "export", name)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("podman export: %v", err)
		}
		files["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = h
	}
	if h := files[dataDir]; h == nil || strconv.Itoa(h.Uid) != uid || h.Typeflag != tar.TypeDir {
		t.Errorf("%s in the image: %+v, want a directory owned by uid %s", dataDir, h, uid)
	}
	if files["/etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Error("image lacks /etc/ssl/certs/ca-certificates.crt (rediss:// needs it)")
	}

	out := filepath.Join(t.TempDir(), "authserver")
	run(t, time.Minute, "", podman, "cp", name+":/authserver", out)
	// scratch has no loader or libc: the binary must be static.
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary in the image is dynamically linked")
		}
	}
	f.Close()

	// The image's environment, with only the listeners moved to free
	// loopback ports and the data dir to a temp dir.
	pub := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env[config.EnvName("listen")] = pub
	env[config.EnvName("admin_listen")] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env[config.EnvName("data_dir")] = t.TempDir()
	serve := exec.Command(out, img.Config.Entrypoint[1:]...)
	serve.Env = []string{}
	for k, v := range env {
		serve.Env = append(serve.Env, k+"="+v)
	}
	var logs syncBuffer // read on failure while the server may still write
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			serve.Process.Kill()
			<-exited
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + pub + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("server exited before answering /healthz: %v\n%s", err, logs.Bytes())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz: %v\n%s", err, logs.Bytes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := client.Get("http://" + pub + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || meta.Issuer == "" {
		t.Errorf("metadata: status %d, %+v, %v", resp.StatusCode, meta, err)
	}

	// A container stop is SIGTERM: the server must exit cleanly on it.
	serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("exit on SIGTERM: %v\n%s", err, logs.Bytes())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("server still running 15 s after SIGTERM\n%s", logs.Bytes())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.buf.Bytes())
}

// composeService and composeFile are the part of compose.yaml the checks read; decoding is
// strict, so a misspelt key fails.
type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Restart     string            `yaml:"restart"`
	Command     []string          `yaml:"command"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
}

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

func decodeCompose(t *testing.T, data []byte) composeFile {
	t.Helper()
	// x-* keys are compose extension fields (our YAML anchor): resolve
	// the aliases, drop them, then decode the rest strictly.
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for k := range top {
		if strings.HasPrefix(k, "x-") {
			delete(top, k)
		}
	}
	clean, err := yaml.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(clean))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}`)

// TestCompose checks compose.yaml: two nodes from the Dockerfile sharing
// secrets from .env, Redis with fsync-always AOF, the proxy over both nodes.
func TestCompose(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := decodeCompose(t, data)
	nodes := []string{"authserver-1", "authserver-2"}
	for _, want := range append(slices.Clone(nodes), "redis", "proxy") {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("no service %q", want)
		}
	}
	valid := configEnvNames(t)
	dotEnv := readEnvFile(t, ".env.example")
	var first map[string]string
	for _, n := range nodes {
		s := c.Services[n]
		if s.Image != "localhost/authserver" || s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" ||
			filepath.Clean(s.Build.Context) != ".." {
			t.Errorf("%s: image %q build %+v, want localhost/authserver built from ../deploy/Dockerfile", n, s.Image, s.Build)
		}
		if len(s.Ports) > 0 {
			t.Errorf("%s publishes %v: only the proxy should be reachable from outside", n, s.Ports)
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range s.Environment {
				if !yield(k) {
					return
				}
			}
		})
		checkEnvNames(t, n+" environment", names)
		for _, secret := range []string{"AUTHSERVER_KEY_ENCRYPTION_SECRET", "AUTHSERVER_ADMIN_TOKEN"} {
			m := interpolation.FindStringSubmatch(s.Environment[secret])
			if m == nil || m[1] != secret || !strings.HasPrefix(m[2], ":?") {
				t.Errorf("%s: %s=%q, want ${%s:?...} so compose refuses to start without it", n, secret, s.Environment[secret], secret)
			}
			if _, ok := dotEnv[secret]; !ok {
				t.Errorf(".env.example lacks %s", secret)
			}
		}
		if u := s.Environment["AUTHSERVER_REDIS_URL"]; !strings.HasPrefix(u, "redis://redis:6379") {
			t.Errorf("%s: AUTHSERVER_REDIS_URL=%q, want the redis service", n, u)
		}
		if first == nil {
			first = s.Environment
		} else if !reflect.DeepEqual(first, s.Environment) {
			t.Errorf("nodes differ in environment:\n%v\n%v", first, s.Environment)
		}
	}
	for k := range dotEnv {
		if strings.HasPrefix(k, config.EnvPrefix) && !valid[k] {
			t.Errorf(".env.example: %s is not a config key", k)
		}
	}

	redis := c.Services["redis"]
	args := strings.Join(redis.Command, " ")
	if !strings.Contains(args, "--appendonly yes") || !strings.Contains(args, "--appendfsync always") {
		t.Errorf("redis command %q: want AOF with appendfsync always", args)
	}
	if !slices.ContainsFunc(redis.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("redis volumes %v: the AOF in /data must outlive the container", redis.Volumes)
	}

	proxy := c.Services["proxy"]
	var caddyfile string
	for _, v := range proxy.Volumes {
		if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(dst, "/etc/caddy/Caddyfile") {
			caddyfile = src
		}
	}
	if caddyfile == "" {
		t.Fatalf("proxy volumes %v mount no Caddyfile", proxy.Volumes)
	}
	cf, err := os.ReadFile(caddyfile)
	if err != nil {
		t.Fatalf("proxy config: %v", err)
	}
	// The nodes listen where the image's Dockerfile ENV says.
	port := dockerfileEnv(t)[config.EnvName("listen")]
	port = strings.TrimPrefix(port, ":")
	m := regexp.MustCompile(`(?m)^\s*reverse_proxy\s+([^{\n]+)`).FindStringSubmatch(string(cf))
	if m == nil {
		t.Fatalf("%s: no reverse_proxy line", caddyfile)
	}
	upstreams := strings.Fields(m[1])
	for _, n := range nodes {
		if !slices.Contains(upstreams, n+":"+port) {
			t.Errorf("%s: reverse_proxy %v lacks %s:%s", caddyfile, upstreams, n, port)
		}
	}
	if !slices.ContainsFunc(proxy.Ports, func(p string) bool { return strings.HasSuffix(p, ":8080") }) {
		t.Errorf("proxy ports %v: want the issuer's port 8080 published", proxy.Ports)
	}
}

// dockerfileEnv is the ENV the Dockerfile sets.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	env := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "ENV "); ok {
			for kv := range strings.FieldsSeq(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	return env
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not NAME=value", path, line)
		}
		env[k] = v
	}
	return env
}

// TestSystemdUnit checks authserver.service: its hardening and restart
// keys, its AUTHSERVER_* names, and systemd-analyze verify where systemd
// is installed.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("authserver.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{} // "Section.Key" → values in order
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("authserver.service:%d: %q is not Key=value in a section", i+1, line)
			}
			unit[section+"."+k] = append(unit[section+"."+k], v)
		}
	}
	want := map[string]string{
		"Service.User":            "authserver",
		"Service.NoNewPrivileges": "yes",
		"Service.ProtectSystem":   "strict",
		"Service.ReadWritePaths":  "/var/lib/authserver",
		"Service.PrivateTmp":      "yes",
		"Service.ProtectHome":     "yes",
		"Service.Restart":         "on-failure",
		"Service.StateDirectory":  "authserver",
		"Install.WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if got := unit[k]; !slices.Contains(got, v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(unit["Service.EnvironmentFile"]) == 0 {
		t.Error("no EnvironmentFile: the secrets have nowhere to come from")
	}
	if got := unit["Service.ExecStart"]; len(got) != 1 || !strings.HasSuffix(got[0], "/authserver serve") {
		t.Errorf("ExecStart = %q, want .../authserver serve", got)
	}
	var names []string
	env := map[string]string{}
	for _, e := range unit["Service.Environment"] {
		for kv := range strings.FieldsSeq(e) {
			k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			names = append(names, k)
			env[k] = v
		}
	}
	checkEnvNames(t, "authserver.service Environment", names)
	if d := env[config.EnvName("data_dir")]; !slices.Contains(unit["Service.ReadWritePaths"], d) {
		t.Errorf("data dir %q is not in ReadWritePaths %q: the store could not be written", d, unit["Service.ReadWritePaths"])
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze not installed; checked the keys only")
		return
	}
	// verify insists that ExecStart's binary exists: point it at one that
	// does, and fail on any warning (unknown keys, bad values).
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^ExecStart=\S+`).ReplaceAllString(string(data), "ExecStart="+self)
	path := filepath.Join(dir, "authserver.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The exposure score systemd computes from the hardening keys; 1.5 today.
	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0: %v\n%s", err, out)
	}
}
