// Package validate_test checks the manifests in deploy/kubernetes: each
// decodes strictly into its Kubernetes API type (an unknown or misspelt
// field fails), and together they fit the server: probes and the Service
// reach its public listener, selectors match the pods, every AUTHSERVER_*
// name is a config key and the ConfigMap's config.yaml loads.
//
// It is a module of its own so the k8s.io dependencies stay out of the
// server's go.mod.
package validate_test

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"authserver/config"
)

const manifestDir = ".."

type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	secret     *corev1.Secret
	configMap  *corev1.ConfigMap
}

// load decodes every *.yaml in dir, one object a file, into the type its
// kind and apiVersion name, rejecting unknown and duplicate fields.
func load(t *testing.T, dir string) manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var m manifests
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(data, &tm); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			m.deployment = once(t, p, m.deployment)
			obj = m.deployment
		case "v1 Service":
			m.service = once(t, p, m.service)
			obj = m.service
		case "policy/v1 PodDisruptionBudget":
			m.pdb = once(t, p, m.pdb)
			obj = m.pdb
		case "v1 Secret":
			m.secret = once(t, p, m.secret)
			obj = m.secret
		case "v1 ConfigMap":
			m.configMap = once(t, p, m.configMap)
			obj = m.configMap
		default:
			t.Fatalf("%s: unexpected %s %s (one object a file; add its type here)", p, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	for name, v := range map[string]any{"Deployment": m.deployment, "Service": m.service,
		"PodDisruptionBudget": m.pdb, "Secret": m.secret, "ConfigMap": m.configMap} {
		if reflect.ValueOf(v).IsNil() {
			t.Fatalf("no %s in %s", name, dir)
		}
	}
	return m
}

func once[T any](t *testing.T, path string, have *T) *T {
	t.Helper()
	if have != nil {
		t.Fatalf("%s: a second %T", path, *have)
	}
	return new(T)
}

// configEnvNames is every environment variable config.Load reads.
func configEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, n := range config.KeyEnvNames() {
		names[n] = true
	}
	for _, n := range []string{"AUTHSERVER_REDIS_URL", "AUTHSERVER_ADMIN_TOKEN", "AUTHSERVER_KEY_ENCRYPTION_SECRET"} {
		if !names[n] {
			t.Fatalf("derived config names lack %s", n)
		}
	}
	return names
}

// containerPort resolves a probe's or Service's port (a name or a number)
// to one of the container's ports.
func containerPort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestManifests checks deploy/kubernetes as it is.
func TestManifests(t *testing.T) {
	if errs := check(t, load(t, manifestDir)); len(errs) > 0 {
		t.Errorf("deploy/kubernetes:\n  %s", strings.Join(errs, "\n  "))
	}
}

// TestChecksFail breaks a copy of the manifests one way at a time; each
// break must be reported, or the checks above prove nothing.
func TestChecksFail(t *testing.T) {
	breaks := []struct{ name, file, from, to string }{
		{"liveness probe on the admin port", "deployment.yaml", "path: /healthz\n              port: http", "path: /healthz\n              port: admin"},
		{"readiness probe path", "deployment.yaml", "path: /readyz", "path: /ready"},
		{"service targets a port the pod lacks", "service.yaml", "targetPort: http", "targetPort: web"},
		{"service selector", "service.yaml", "selector:\n    app.kubernetes.io/name: authserver", "selector:\n    app.kubernetes.io/name: auth"},
		{"pdb selector", "pdb.yaml", "matchLabels:\n      app.kubernetes.io/name: authserver", "matchLabels:\n      app: authserver"},
		{"env name not a config key", "deployment.yaml", "name: AUTHSERVER_REDIS_PASSWORD", "name: AUTHSERVER_REDIS_PASSWD"},
		{"secret key missing", "deployment.yaml", "key: key-encryption-secret", "key: encryption-secret"},
		{"listen port drifts from containerPort", "configmap.yaml", `listen: ":8080"`, `listen: ":9090"`},
		{"config key unknown", "configmap.yaml", "data_dir: /data", "datadir: /data"},
		{"writable root filesystem", "deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"},
		{"root user", "deployment.yaml", "runAsUser: 65532", "runAsUser: 0"},
		{"one replica", "deployment.yaml", "replicas: 2", "replicas: 1"},
		{"no preStop", "deployment.yaml", "preStop:\n              sleep:\n                seconds: 5", "postStart:\n              sleep:\n                seconds: 5"},
		{"placeholder long enough to start", "secret.yaml", "admin-token: CHANGE-ME", "admin-token: CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME"},
	}
	strictBreaks := []struct{ name, file, from, to string }{
		{"unknown field", "deployment.yaml", "readinessProbe:", "readinesProbe:"},
		{"field at the wrong level", "service.yaml", "  type: ClusterIP", "  type: ClusterIP\n  port: 80"},
		{"wrong type", "pdb.yaml", "minAvailable: 1", "minAvailable: [1]"},
	}
	copyBroken := func(t *testing.T, file, from, to string) string {
		dir := t.TempDir()
		paths, _ := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(p) == file {
				if !strings.Contains(string(data), from) {
					t.Fatalf("%s no longer contains %q: update this break", file, from)
				}
				data = []byte(strings.Replace(string(data), from, to, 1))
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			errs := check(t, load(t, copyBroken(t, b.file, b.from, b.to)))
			if len(errs) == 0 {
				t.Errorf("%s: %q → %q passed the checks", b.file, b.from, b.to)
			}
			t.Logf("reported: %v", errs)
		})
	}
	for _, b := range strictBreaks {
		t.Run(b.name, func(t *testing.T) {
			dir := copyBroken(t, b.file, b.from, b.to)
			data, err := os.ReadFile(filepath.Join(dir, b.file))
			if err != nil {
				t.Fatal(err)
			}
			var tm metav1.TypeMeta
			_ = yaml.Unmarshal(data, &tm)
			objs := map[string]any{"Deployment": &appsv1.Deployment{}, "Service": &corev1.Service{}, "PodDisruptionBudget": &policyv1.PodDisruptionBudget{}}
			err = yaml.UnmarshalStrict(data, objs[tm.Kind])
			if err == nil {
				t.Errorf("%s: %q → %q decoded strictly", b.file, b.from, b.to)
			}
			t.Logf("reported: %v", err)
		})
	}
}

// check returns what is wrong with a set of manifests.
func check(t *testing.T, m manifests) []string {
	t.Helper()
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	d := m.deployment
	pod := d.Spec.Template
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		fail("deployment: want at least 2 replicas, have %s", replicas(d.Spec.Replicas))
	}
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
		fail("deployment selector %v does not match the pod labels %v", d.Spec.Selector, pod.Labels)
	}
	if !selects(m.service.Spec.Selector, pod.Labels) {
		fail("service selector %v does not match the pod labels %v", m.service.Spec.Selector, pod.Labels)
	}
	if m.pdb.Spec.Selector == nil || !selects(m.pdb.Spec.Selector.MatchLabels, pod.Labels) {
		fail("pdb selector %v does not match the pod labels %v", m.pdb.Spec.Selector, pod.Labels)
	}
	if mi := m.pdb.Spec.MinAvailable; mi == nil || mi.Type != intstr.Int || mi.IntVal != 1 {
		fail("pdb minAvailable %v, want 1", mi)
	}

	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		fail("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if len(pod.Spec.Containers) != 1 {
		fail("want one container, have %d", len(pod.Spec.Containers))
		return errs
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		fail("container securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, capabilities dropped", sc)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		fail("container resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if ls := c.Lifecycle; ls == nil || ls.PreStop == nil || ls.PreStop.Sleep == nil || ls.PreStop.Sleep.Seconds <= 0 {
		fail("no preStop sleep: load balancers would still send to a stopping pod")
	} else if g := pod.Spec.TerminationGracePeriodSeconds; g != nil && ls.PreStop.Sleep.Seconds >= *g {
		fail("preStop sleep %d s leaves no time of the %d s grace period to drain", ls.PreStop.Sleep.Seconds, *g)
	}

	// Environment: real config names; secrets from the Secret, by keys it has.
	valid := configEnvNames(t)
	env := map[string]string{}
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		if !valid[e.Name] {
			fail("env %s is not a config key", e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			_, ok := m.secret.StringData[ref.Key]
			if ref.Name != m.secret.Name || (!ok && (ref.Optional == nil || !*ref.Optional)) {
				fail("env %s: secret %s key %s is not in the Secret %s (keys %v)", e.Name, ref.Name, ref.Key, m.secret.Name, slices.Sorted(maps.Keys(m.secret.StringData)))
			}
			fromSecret[e.Name] = true
			if ok {
				// A test value of the length the server demands.
				env[e.Name] = strings.Repeat("s", 40)
			}
		case e.ValueFrom != nil:
			fail("env %s: only secretKeyRef is expected", e.Name)
		default:
			env[e.Name] = e.Value
		}
	}
	for _, n := range []string{"AUTHSERVER_ADMIN_TOKEN", "AUTHSERVER_KEY_ENCRYPTION_SECRET"} {
		if !fromSecret[n] {
			fail("env %s must come from the Secret: every pod needs the same value", n)
		}
	}

	// config.yaml: mounted from the ConfigMap where AUTHSERVER_CONFIG says.
	cfgPath := env[config.EnvConfigFile]
	var cfgText string
	mounts := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		mounts[v.Name] = v
	}
	writable := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		v, ok := mounts[vm.Name]
		if !ok {
			fail("volumeMount %s has no volume", vm.Name)
			continue
		}
		if !vm.ReadOnly && v.EmptyDir != nil {
			writable[vm.MountPath] = true
		}
		if v.ConfigMap != nil && v.ConfigMap.Name == m.configMap.Name && filepath.Dir(cfgPath) == vm.MountPath && vm.SubPath == "" {
			cfgText = m.configMap.Data[filepath.Base(cfgPath)]
		}
	}
	if cfgText == "" {
		fail("%s=%q is not a key of the ConfigMap %s mounted there", config.EnvConfigFile, cfgPath, m.configMap.Name)
		return errs
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	env[config.EnvConfigFile] = file
	cfg, err := config.Load(nil, environ(env))
	if err != nil {
		fail("the pod's configuration does not load: %v", err)
		return errs
	}
	if cfg.StoreKind() == config.StoreEmbedded {
		fail("config selects the embedded store: two replicas need Redis")
	}
	if !writable[cfg.DataDir] {
		fail("data_dir %s is not a writable emptyDir mount (the root filesystem is read-only)", cfg.DataDir)
	}
	// The placeholders must not start a server: a pod applied from the
	// template unchanged should fail, not generate its own secrets.
	for n := range fromSecret {
		if key := secretKey(c, n); key != "" {
			if v, ok := m.secret.StringData[key]; ok {
				env2 := maps.Clone(env)
				env2[n] = v
				if _, err := config.Load(nil, environ(env2)); err == nil {
					fail("secret %s placeholder %q is accepted by the server: use one it refuses", key, v)
				}
			}
		}
	}

	_, listen, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		fail("listen %q: %v", cfg.Listen, err)
	}
	_, adminListen, _ := net.SplitHostPort(cfg.AdminListen)
	public := func(what string, p intstr.IntOrString) {
		port, ok := containerPort(c, p)
		if !ok {
			fail("%s port %s is not a container port", what, p.String())
		} else if strconv.Itoa(int(port)) != listen {
			fail("%s port %s is %d, but the public listener is %s", what, p.String(), port, cfg.Listen)
		}
	}
	for _, cp := range c.Ports {
		if p := strconv.Itoa(int(cp.ContainerPort)); p != listen && p != adminListen {
			fail("container port %d is neither listener (%s, %s)", cp.ContainerPort, cfg.Listen, cfg.AdminListen)
		}
	}
	probes := []struct {
		name, path string
		p          *corev1.Probe
	}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", "/readyz", c.ReadinessProbe}}
	for _, pr := range probes {
		if pr.p == nil || pr.p.HTTPGet == nil {
			fail("no %s httpGet probe", pr.name)
			continue
		}
		if pr.p.HTTPGet.Path != pr.path {
			fail("%s probe path %s, want %s", pr.name, pr.p.HTTPGet.Path, pr.path)
		}
		public(pr.name+" probe", pr.p.HTTPGet.Port)
	}
	if len(m.service.Spec.Ports) != 1 {
		fail("service: want one port (the public listener), have %d", len(m.service.Spec.Ports))
	}
	for _, sp := range m.service.Spec.Ports {
		public("service", sp.TargetPort)
	}
	return errs
}

func secretKey(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Key
		}
	}
	return ""
}

func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func replicas(n *int32) string {
	if n == nil {
		return "none (1)"
	}
	return strconv.Itoa(int(*n))
}
