package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authserver/resource"
)

// mcpInteropDir is interopDir for the MCP scripts: the SDK must be in
// interop/node_modules too.
func mcpInteropDir(t *testing.T) string {
	t.Helper()
	dir := interopDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		t.Fatalf("interop/node_modules/@modelcontextprotocol/sdk is missing (%v): run `make deps`, which runs npm ci in interop/", err)
	}
	return dir
}

// script is a Node script of interop/ spoken to in JSON lines, killed
// when the test ends or after limit, whichever comes first.
type script struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	in     *json.Encoder
	out    *bufio.Scanner
	lines  chan []byte // out's lines, read by one goroutine
	stderr *syncBuffer
}

func startScript(t *testing.T, dir, name string, limit time.Duration) *script {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, "node", name)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &script{t: t, name: name, cmd: cmd, stdin: stdin, in: json.NewEncoder(stdin),
		out: bufio.NewScanner(stdout), lines: make(chan []byte, 16), stderr: &syncBuffer{}}
	s.out.Buffer(make([]byte, 0, 64<<10), 1<<20)
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node %s: %v", name, err)
	}
	go func() {
		defer close(s.lines)
		for s.out.Scan() {
			s.lines <- append([]byte(nil), s.out.Bytes()...)
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		cancel()
		_ = cmd.Wait()
	})
	return s
}

func (s *script) send(msg any) {
	s.t.Helper()
	if err := s.in.Encode(msg); err != nil {
		s.t.Fatalf("write to %s: %v (stderr: %s)", s.name, err, s.stderr)
	}
}

// next waits up to wait for the script's next line, decoded into a map;
// a line with an "error" fails the test.
func (s *script) next(wait time.Duration) map[string]json.RawMessage {
	s.t.Helper()
	msg := s.nextRaw(wait)
	if e, ok := msg["error"]; ok {
		s.t.Fatalf("%s failed: %s\nstack: %s\nstderr: %s", s.name, e, msg["stack"], s.stderr)
	}
	return msg
}

// nextRaw is next that hands back an "error" line too.
func (s *script) nextRaw(wait time.Duration) map[string]json.RawMessage {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("%s printed nothing more (%v); stderr: %s", s.name, s.out.Err(), s.stderr)
		}
		var msg map[string]json.RawMessage
		if err := json.Unmarshal(line, &msg); err != nil {
			s.t.Fatalf("%s printed %q: %v", s.name, line, err)
		}
		return msg
	case <-time.After(wait):
		s.t.Fatalf("%s printed nothing within %s; stderr: %s", s.name, wait, s.stderr)
		return nil
	}
}

// lineField decodes msg[key] into v, failing the test when it is missing.
func lineField(t *testing.T, msg map[string]json.RawMessage, key string, v any) {
	t.Helper()
	raw, ok := msg[key]
	if !ok {
		t.Fatalf("message %v lacks %q", msg, key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s %s: %v", key, raw, err)
	}
}

// exit waits for the script to end and returns its exit code.
func (s *script) exit() int {
	s.t.Helper()
	err := s.cmd.Wait()
	if err != nil && s.cmd.ProcessState == nil {
		s.t.Fatalf("%s: %v; stderr: %s", s.name, err, s.stderr)
	}
	return s.cmd.ProcessState.ExitCode()
}

// startMCPServer runs interop/mcp-server.mjs and returns the URL of its
// MCP endpoint (on loopback, with no protection of its own).
func startMCPServer(t *testing.T, dir string) string {
	t.Helper()
	s := startScript(t, dir, "mcp-server.mjs", 2*time.Minute)
	var u string
	lineField(t, s.next(15*time.Second), "url", &u)
	return u
}

// mcpFront is the protected MCP endpoint a client sees: a Go server whose
// resource.Validator checks the bearer token of every request to /mcp and
// proxies the accepted ones to the Node MCP server, and which serves the
// RFC 9728 metadata the 401 challenges point at.
type mcpFront struct {
	URL       string // the MCP endpoint and resource identifier, http://127.0.0.1:PORT/mcp
	validator *resource.Validator
	ln        net.Listener

	mu       sync.Mutex
	accepted []*resource.Token // tokens let through, in order
	refused  int
}

const mcpScope = "mcp:tools"

// listenMCPFront takes the front's port, so its URL is known before the
// node starts (a node may be configured with it as its audience).
func listenMCPFront(t *testing.T) *mcpFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &mcpFront{URL: "http://" + ln.Addr().String() + "/mcp", ln: ln}
}

// serve starts the front, trusting issuer's tokens for f.URL with the
// mcp:tools scope, in front of the MCP server at upstream.
func (f *mcpFront) serve(t *testing.T, issuer, upstream string) {
	t.Helper()
	v, err := resource.New(resource.Config{
		Issuer: issuer, Audience: f.URL,
		RequiredScopes: []string{mcpScope}, ScopesSupported: []string{mcpScope},
		ResourceName: "authserver interop MCP server",
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
		// The client waits for its token to expire to see a refresh: no
		// clock skew to allow for on one machine.
		Leeway: time.Millisecond,
	})
	if err != nil {
		t.Fatalf("resource.New: %v", err)
	}
	f.validator = v
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
			pr.Out.URL.Path = target.Path
			// The token is the front's: the MCP server gets the identity.
			pr.Out.Header.Del("Authorization")
			for k := range pr.Out.Header {
				if strings.HasPrefix(strings.ToLower(k), "x-authserver-") {
					pr.Out.Header.Del(k)
				}
			}
			tok, _ := resource.FromContext(pr.In.Context())
			pr.Out.Header.Set("X-Authserver-Subject", tok.Subject)
			pr.Out.Header.Set("X-Authserver-Client-Id", tok.ClientID)
			pr.Out.Header.Set("X-Authserver-Scope", strings.Join(tok.Scopes, " "))
		},
		FlushInterval: -1,
	}
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, _ := resource.FromContext(r.Context())
			f.mu.Lock()
			f.accepted = append(f.accepted, tok)
			f.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	guard := v.Middleware()(record(proxy))
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		guard.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized {
			f.mu.Lock()
			f.refused++
			f.mu.Unlock()
		}
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(f.ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
}

// tokens returns the tokens the front let through so far, and how many
// requests it answered 401.
func (f *mcpFront) tokens() ([]*resource.Token, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*resource.Token(nil), f.accepted...), f.refused
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets the proxy stream (it flushes after every write).
func (r *statusRecorder) Flush() {
	if fl, ok := r.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// mcpPost posts an MCP initialize request to the front with token (none
// when empty) and returns the status and WWW-Authenticate header.
func mcpPost(t *testing.T, mcpURL, token string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"go-test","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// frontJSON GETs a JSON document.
func frontJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d (%v)", u, resp.StatusCode, err)
	}
	return out
}
