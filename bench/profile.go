package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profiler runs our server as bench/profserver, which is `authserver
// serve` with runtime/pprof switched on and off over a control listener of
// its own, and profiles the first measured window of each scenario.
type profiler struct {
	bin   string
	dir   string
	names []string // profiles written, in order
}

func newProfiler(ctx context.Context, src, work, dir string) (*profiler, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	p := &profiler{bin: filepath.Join(work, "bin", "profserver"), dir: abs}
	if err := goBuild(ctx, src, p.bin, "./bench/profserver"); err != nil {
		return nil, err
	}
	return p, nil
}

// args are profserver's arguments for a control listener on ctl.
func (p *profiler) args(ctl string) []string {
	return []string{"-control", ctl, "-profiles", p.dir}
}

func (p *profiler) call(ctx context.Context, ctl, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ctl+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profserver %s: %s", path, body)
	}
	return nil
}

// start begins profile name on the server behind ctl. A failure only
// costs the profile, so it is reported and the run goes on.
func (p *profiler) start(ctx context.Context, ctl, name string) {
	if err := p.call(ctx, ctl, "/start?name="+url.QueryEscape(name)); err != nil {
		fmt.Fprintf(os.Stderr, "profile %s: %v\n", name, err)
		return
	}
	p.names = append(p.names, name)
}

func (p *profiler) stop(ctx context.Context, ctl string) {
	if err := p.call(ctx, ctl, "/stop"); err != nil {
		fmt.Fprintf(os.Stderr, "profile: %v\n", err)
	}
}

// summarize writes `go tool pprof -top` views next to each profile (CPU
// flat and cumulative, allocations in the window) and prints the start of
// the flat CPU view.
func (p *profiler) summarize(ctx context.Context, w io.Writer) {
	fmt.Fprintf(w, "\n## Profiles (%s)\n", p.dir)
	for _, name := range p.names {
		base := filepath.Join(p.dir, name)
		views := []struct {
			file string
			args []string
		}{
			{base + ".cpu.top.txt", []string{"-top", "-nodecount=40", base + ".cpu.pprof"}},
			{base + ".cpu.cum.txt", []string{"-top", "-cum", "-nodecount=60", base + ".cpu.pprof"}},
			{base + ".allocs.top.txt", []string{"-top", "-nodecount=30", "-sample_index=alloc_space", "-base", base + ".allocs-base.pprof", base + ".allocs.pprof"}},
		}
		for i, v := range views {
			out, err := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof"}, v.args...)...).CombinedOutput()
			if err != nil {
				fmt.Fprintf(w, "\n%s: go tool pprof: %v\n%s\n", name, err, out)
				break
			}
			if err := os.WriteFile(v.file, out, 0o644); err != nil {
				fmt.Fprintf(w, "\n%s: %v\n", name, err)
				break
			}
			if i == 0 {
				fmt.Fprintf(w, "\n### %s (flat CPU; full views in %s.*.txt)\n\n```\n%s```\n", name, name, firstLines(string(out), 18))
			}
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}
