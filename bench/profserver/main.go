// Command profserver is `authserver serve` with a CPU and allocation
// profiler that `authserver bench --profile` switches on and off around
// each measured window, over a control listener of its own. The server is
// built by app.New exactly as serve builds it; nothing is added to it.
//
//	profserver -control 127.0.0.1:7000 -profiles ./profiles [-- serve flags]
//
//	POST /start?name=N   CPU profile to N.cpu.pprof; allocations so far to N.allocs-base.pprof
//	POST /stop           ends the CPU profile; allocations so far to N.allocs.pprof
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/gin-gonic/gin"

	"authserver/app"
	"authserver/config"
)

func main() {
	fs := flag.NewFlagSet("profserver", flag.ExitOnError)
	control := fs.String("control", "127.0.0.1:0", "control listener")
	dir := fs.String("profiles", ".", "directory for the profiles")
	fs.Parse(os.Args[1:])

	cfg, err := config.Load(fs.Args(), os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "profserver: %v\n", err)
		os.Exit(2)
	}
	gin.SetMode(gin.ReleaseMode)
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ctl, err := net.Listen("tcp", *control)
	if err != nil {
		fmt.Fprintf(os.Stderr, "profserver: %v\n", err)
		os.Exit(1)
	}
	p := &profiles{dir: *dir}
	go http.Serve(ctl, p.routes())

	a, err := app.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "profserver: %v\n", err)
		os.Exit(1)
	}
	defer a.Close()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "profserver: %v\n", err)
		os.Exit(1)
	}
	p.finish()
}

// profiles is at most one CPU profile at a time.
type profiles struct {
	dir  string
	mu   sync.Mutex
	name string
	cpu  *os.File
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

func (p *profiles) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		if err := p.start(r.URL.Query().Get("name")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		if err := p.finish(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	return mux
}

func (p *profiles) start(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("bad profile name %q", name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cpu != nil {
		return fmt.Errorf("profile %s is running", p.name)
	}
	if err := writeAllocs(filepath.Join(p.dir, name+".allocs-base.pprof")); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(p.dir, name+".cpu.pprof"))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.name, p.cpu = name, f
	return nil
}

// finish ends the running profile, if any.
func (p *profiles) finish() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cpu == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.cpu.Close()
	p.cpu = nil
	if aerr := writeAllocs(filepath.Join(p.dir, p.name+".allocs.pprof")); err == nil {
		err = aerr
	}
	return err
}

// writeAllocs writes the allocations made since the process started; two
// of them, one the -base of the other, give a window's allocations.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
