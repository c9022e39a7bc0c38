package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"authserver/app"
	"authserver/config"
)

func runServe(args []string, stderr io.Writer) int {
	cfg, err := config.Load(args, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "authserver: %v\n", err)
		return 2
	}
	gin.SetMode(gin.ReleaseMode)
	log := slog.New(slog.NewJSONHandler(stderr, nil))
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
