// Package apptest starts real authserver nodes for tests in other packages
// (the resource package, the examples, the fault tests): each on two
// loopback listeners of its own, on the embedded store in a temporary
// directory unless the test points it at Redis, stopped when the test
// ends.
package apptest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"authserver/app"
	"authserver/config"
)

// Node is a running node.
type Node struct {
	App *app.App
	// Base is the public listener's URL (the issuer unless tweak changed
	// it); AdminURL the admin listener's.
	Base, AdminURL string
}

// Start starts a node with the test defaults (a fast password hash, a
// temporary data directory, no drain delay to speak of, the issuer and
// audience at the public listener), then tweak (nil: none), logging to log
// (nil: nowhere).
func Start(t testing.TB, tweak func(*config.Config), log *slog.Logger) *Node {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.PasswordHash = config.PasswordHash{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.Shutdown.DrainDelay = 10 * time.Millisecond // no load balancer to wait for
	pub, adm := Listen(t), Listen(t)
	cfg.Issuer = "http://" + pub.Addr().String()
	cfg.Tokens.Audience = cfg.Issuer
	if tweak != nil {
		tweak(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return &Node{App: a, Base: "http://" + pub.Addr().String(), AdminURL: "http://" + adm.Addr().String()}
}

// Listen opens a loopback listener on a free port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
