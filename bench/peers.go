package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Peers: other authorization servers measured beside ours, each its own
// column group in the table.
const (
	PeerGoOAuth2     = "go-oauth2"     // bench/baseline, go-oauth2 v4.5.4
	PeerOIDCProvider = "oidc-provider" // interop/bench-peer-oidc-provider.mjs on Node
)

// AllPeers is every peer, in table order.
var AllPeers = []string{PeerGoOAuth2, PeerOIDCProvider}

// parsePeers reads --peers: a comma-separated list, or "none".
func parsePeers(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "" || p == "none":
		case slices.Contains(AllPeers, p):
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		default:
			return nil, fmt.Errorf("--peers: unknown %q (have %s, or none)", p, strings.Join(AllPeers, ", "))
		}
	}
	return out, nil
}

// peer starts one peer server afresh; the benchmark restarts every peer
// before each scenario (see Run).
type peer struct {
	name  string
	start func(ctx context.Context, cpu int) (*target, error)
}

// oidcProviderScript is the peer's entry point, relative to the source root.
const oidcProviderScript = "interop/bench-peer-oidc-provider.mjs"

// oidcProviderPeer returns the node-oidc-provider peer, or why it cannot
// run here (no node, or `make deps` has not installed the package).
func oidcProviderPeer(src, dir string, alg string, conns int) (*peer, string) {
	if src == "" {
		return nil, "the authserver source tree (interop/) was not found"
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, "node not found (Node 20 or newer; `make deps` installs it)"
	}
	script := filepath.Join(src, filepath.FromSlash(oidcProviderScript))
	if _, err := os.Stat(script); err != nil {
		return nil, oidcProviderScript + " not found"
	}
	if _, err := os.Stat(filepath.Join(src, "interop", "node_modules", "oidc-provider", "package.json")); err != nil {
		return nil, "the npm package oidc-provider is not installed (run `make deps`: npm ci --prefix interop)"
	}
	version := "oidc-provider " + packageVersion(filepath.Join(src, "interop", "node_modules", "oidc-provider", "package.json"))
	if out, err := exec.Command(node, "--version").Output(); err == nil {
		version += " on Node " + strings.TrimSpace(string(out))
	}
	return &peer{name: PeerOIDCProvider, start: func(ctx context.Context, cpu int) (*target, error) {
		t, err := startOIDCProvider(ctx, node, script, dir, cpu, alg, conns)
		if t != nil {
			t.version = version
		}
		return t, err
	}}, ""
}

// packageVersion reads "version" from an npm package.json.
func packageVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(unknown version)"
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &pkg) != nil || pkg.Version == "" {
		return "(unknown version)"
	}
	return pkg.Version
}

// oidcProviderOpaque is the peer's resource whose access tokens are opaque:
// oidc-provider does not introspect JWT access tokens.
const oidcProviderOpaque = "urn:bench:opaque"

// startOIDCProvider starts node-oidc-provider with a client of its own. It
// has no password grant (that scenario is n/a); its codes are minted
// through its interaction redirects (the script's interaction route signs
// the user in and grants the request), and its refresh-token families
// start with a code exchange.
func startOIDCProvider(ctx context.Context, node, script, dir string, cpu int, alg string, conns int) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	t := &target{name: PeerOIDCProvider, store: storeMemory, peer: PeerOIDCProvider, http: newHTTPClient(conns),
		introspectMint: url.Values{"resource": {oidcProviderOpaque}},
		introspectNote: "oidc-provider refuses to introspect JWT access tokens (unsupported_token_type): it introspects opaque ones (a lookup in its in-memory adapter, no signature check)",
		interactive:    true, refreshFromCodes: true,
		unsupported: map[string]string{
			Password: "oidc-provider has no password grant (dropped by OAuth 2.1)",
		}}
	t.setClient("bench-"+randomString(8), randomString(32))
	args := []string{script, "--port", strconv.Itoa(port), "--client-id", t.clientID, "--client-secret", t.secret, "--alg", alg}
	env := append(cleanEnv(), "NODE_ENV=production")
	p, err := startChild("oidc-provider", dir, cpu, node, args, env)
	if err != nil {
		return nil, err
	}
	t.proc, t.pid = p, p.pid()
	err = p.waitReady(ctx, 60*time.Second, func() error {
		status, body, err := get(ctx, t.http, base+"/.well-known/openid-configuration")
		if err == nil && status != http.StatusOK {
			err = statusError(status, body)
		}
		return err
	})
	if err == nil {
		err = t.discover(ctx, base+"/.well-known/openid-configuration")
	}
	if err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// preparePeers builds or finds every peer asked for; those that cannot run
// here are skipped with the reason why, and the benchmark goes on.
func preparePeers(ctx context.Context, o *Options, src, work string, logf func(string, ...any)) ([]*peer, []string, error) {
	var peers []*peer
	var skipped []string
	for _, name := range o.Peers {
		switch name {
		case PeerGoOAuth2:
			bin := filepath.Join(work, "bin", "baseline")
			logf("building the go-oauth2 baseline (bench/baseline)")
			if err := goBuild(ctx, filepath.Join(src, "bench", "baseline"), bin, "."); err != nil {
				return nil, nil, err
			}
			dir := filepath.Join(work, "baseline")
			peers = append(peers, &peer{name: name, start: func(ctx context.Context, cpu int) (*target, error) {
				t, err := startBaseline(ctx, bin, dir, cpu, o.Alg, o.Concurrency)
				if t != nil {
					t.version = "go-oauth2 v4.5.4 (bench/baseline), no JWKS endpoint"
				}
				return t, err
			}})
		case PeerOIDCProvider:
			p, why := oidcProviderPeer(src, filepath.Join(work, "oidc-provider"), o.Alg, o.Concurrency)
			if p == nil {
				msg := fmt.Sprintf("peer %s skipped: %s", name, why)
				logf("%s", msg)
				skipped = append(skipped, msg)
				continue
			}
			peers = append(peers, p)
		default:
			return nil, nil, errors.New("unknown peer " + name)
		}
	}
	return peers, skipped, nil
}
