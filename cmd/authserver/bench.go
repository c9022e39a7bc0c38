package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"authserver/bench"
)

// runBench runs the load benchmark (package bench): our server on each
// store and the go-oauth2 baseline, side by side, one table.
func runBench(args []string, stdout, stderr io.Writer) int {
	o, err := bench.ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "authserver: bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "authserver: bench: %v\n", err)
		return 1
	}
	return 0
}
