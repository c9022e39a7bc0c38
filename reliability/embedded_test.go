package reliability

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	// killRounds is how many times the server is killed under load.
	killRounds = 3
	// serveTimeout bounds a server's start, first or after a kill.
	serveTimeout = 20 * time.Second
)

// buildBinary builds `authserver` once for the test, as an operator would.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "authserver")
	if out, err := exec.Command(goTool, "build", "-o", bin, "authserver/cmd/authserver").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l := listen(t)
	defer l.Close()
	return l.Addr().String()
}

// server is `authserver serve` on the embedded store, on fixed loopback
// ports and one data directory, so a restart serves the same clients at
// the same addresses.
type server struct {
	bin, dir, pub, adm, adminToken string
	env                            []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *serveLog
}

func newServer(t *testing.T, bin string) *server {
	t.Helper()
	s := &server{bin: bin, dir: t.TempDir(), pub: freeAddr(t), adm: freeAddr(t),
		adminToken: "the admin token of the kill test, long enough"}
	for _, kv := range os.Environ() {
		if len(kv) < 11 || kv[:11] != "AUTHSERVER_" {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env,
		"AUTHSERVER_DATA_DIR="+s.dir, "AUTHSERVER_LISTEN="+s.pub, "AUTHSERVER_ADMIN_LISTEN="+s.adm,
		"AUTHSERVER_ISSUER=http://"+s.pub, "AUTHSERVER_ADMIN_TOKEN="+s.adminToken,
		"AUTHSERVER_PASSWORD_HASH_TIME=1", "AUTHSERVER_PASSWORD_HASH_MEMORY_KIB=64",
		"AUTHSERVER_SCOPES=profile", "AUTHSERVER_SHUTDOWN_DRAIN_DELAY=10ms")
	t.Cleanup(s.kill)
	return s
}

func (s *server) base() string     { return "http://" + s.pub }
func (s *server) adminURL() string { return "http://" + s.adm }

// start runs the server and waits until it logs "serving".
func (s *server) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env
	log := &serveLog{serving: make(chan struct{})}
	cmd.Stderr = log
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.log = cmd, done, log
	s.mu.Unlock()
	select {
	case <-log.serving:
	case <-done:
		t.Fatalf("authserver exited before serving:\n%s", log)
	case <-time.After(serveTimeout):
		t.Fatalf("authserver did not serve within %v:\n%s", serveTimeout, log)
	}
}

// kill sends SIGKILL (kill -9) and waits until the process is reaped.
func (s *server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// serveLog keeps a server's JSON log and signals its "serving" line.
type serveLog struct {
	mu      sync.Mutex
	all     bytes.Buffer
	serving chan struct{}
	seen    bool
}

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	if !l.seen {
		for _, line := range bytes.Split(l.all.Bytes(), []byte("\n")) {
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "serving" {
				l.seen = true
				close(l.serving)
				break
			}
		}
	}
	return len(p), nil
}

func (l *serveLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// TestServerKilled: the server on its embedded store killed with kill -9
// under refresh load, and restarted on the same data directory and ports,
// three times. Requests while it is down get no answer (there is no
// server to give one); every answer must still be a 200 or a JSON 503,
// and every family must survive.
func TestServerKilled(t *testing.T) {
	t.Parallel()
	s := newServer(t, buildBinary(t))
	s.start(t)
	tn := provision(t, s.base(), s.adminURL(), s.adminToken, chainCount)
	l := startLoad(t, s.base(), tn)
	l.warm(t)
	var seen counters
	slowest, recovered := time.Duration(0), true
	for range killRounds {
		time.Sleep(time.Second)
		seen = seen.plus(countersOf(t, s.adminURL())) // the counters die with the process
		s.kill()
		s.start(t)
		l.rec.healed()
		waitUntil(recoverTimeout, func() bool { return l.rec.allRecovered(l.chains) })
		r := l.rec.recovery()
		recovered = recovered && r >= 0
		slowest = max(slowest, r)
	}
	time.Sleep(300 * time.Millisecond)
	l.Stop()
	alive, why := l.finalCheck()
	f := l.figures("e. server kill -9 x"+strconv.Itoa(killRounds)+", embedded store", alive, -1, seen.plus(countersOf(t, s.adminURL())))
	f.recovery, f.transportOK = slowest, true // the slowest of the rounds
	if !recovered {
		f.recovery = -1
	}
	keep(t, f)
	l.verify(t, f, why)
	if t.Failed() {
		t.Logf("log of the last server:\n%s", s.log)
	}
}
