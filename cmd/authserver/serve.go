package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"authserver/app"
	"authserver/config"
)

const serveUsage = `usage: authserver serve [flags]

run the server: the public and the admin listener. Settings come from the
config file, then AUTHSERVER_* environment variables, then these flags.
`

func runServe(args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, os.Environ())
	if errors.Is(err, flag.ErrHelp) {
		// Load's help error carries the flag list after the sentinel's text.
		_, flags, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(stdout, "%s\n%s", serveUsage, flags)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "authserver: %v\n", err)
		return 2
	}
	gin.SetMode(gin.ReleaseMode)
	if os.Getenv("GOGC") == "" {
		// The live heap stays near 30 MiB under load, and at these request
		// rates the default GOGC=100 spends 5–15% of the CPU collecting it
		// (docs/BENCHMARKS.md); GOGC in the environment still wins.
		debug.SetGCPercent(400)
	}
	log := app.NewLogger(stderr, cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "authserver: %v\n", err)
		return 1
	}
	defer a.Close()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "authserver: %v\n", err)
		return 1
	}
	return 0
}
