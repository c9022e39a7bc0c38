package main

import (
	"bytes"
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
	// Asked-for help goes to stdout, a mistake's usage to stderr.
	var usage bytes.Buffer
	o, err := bench.ParseFlags(args, &usage)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(usage.Bytes())
		return 0
	}
	if err != nil {
		stderr.Write(usage.Bytes())
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
