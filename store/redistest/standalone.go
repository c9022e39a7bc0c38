package redistest

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Server is one standalone redis-server started for a test.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	n    *node
	args func(port int) []string
}

// StartStandalone starts a standalone redis-server, ready to serve, and stops
// it when the test ends.
func StartStandalone(t testing.TB) *Server {
	t.Helper()
	return startStandalone(t, baseArgs)
}

// StartDurable is StartStandalone with an append-only file synced on every
// write (appendfsync always), so everything it acknowledged survives Kill
// and Restart: the set-up of a server whose data is meant to last.
func StartDurable(t testing.TB) *Server {
	t.Helper()
	return startStandalone(t, durableArgs)
}

func durableArgs(port int) []string {
	return append(baseArgs(port), "--appendonly", "yes", "--appendfsync", "always")
}

func startStandalone(t testing.TB, args func(port int) []string) *Server {
	t.Helper()
	root := t.TempDir()
	nodes := startNodes(t, root, 1, func(int) spec {
		return spec{name: "standalone", args: func(port int, _ string) ([]string, error) {
			return args(port), nil
		}}
	})
	return &Server{Addr: nodes[0].addr, n: nodes[0], args: args}
}

// URL returns the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a go-redis client for the server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	return NewClient(t, s.Addr)
}

// Kill stops the server at once (SIGKILL) and reaps it; the test's cleanup
// then has nothing left to do.
func (s *Server) Kill() { s.n.kill() }

// PID is the server's process id.
func (s *Server) PID() int { return s.n.cmd.Process.Pid }

// Restart starts the server again on the same port and directory after
// Kill, and waits until it answers PING. A StartStandalone server saves
// nothing by itself: it comes back empty unless the test ran SAVE before
// the kill (the dump is in that directory); a StartDurable one comes back
// with everything it acknowledged. It returns an error rather than failing
// the test.
func (s *Server) Restart(t testing.TB) error {
	t.Helper()
	s.n.kill()
	n, err := spawn(binary(t, "redis-server"), s.args(s.n.port), s.n.port, s.n.dir)
	if err != nil {
		return err
	}
	t.Cleanup(n.kill)
	if err := waitPing(n); err != nil {
		n.kill()
		return fmt.Errorf("restart on port %d: %w\n%s", s.n.port, err, n.logTail())
	}
	s.n = n
	return nil
}
