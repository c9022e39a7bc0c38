package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runInitialAccessTokens is `authserver initial-access-tokens ...`: tokens
// that let a partner register a client (RFC 7591), over the admin API.
func runInitialAccessTokens(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(stdCLI(stdin, stdout, stderr), "initial-access-tokens", iatCommands(), args)
}

func iatCommands() []subcommand {
	return []subcommand{
		{name: "create", short: "create an initial access token for POST /register; prints it, shown only this once", setup: iatCreate},
	}
}

func iatCreate(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid, e.g. 1h, 72h")
	uses := fs.Int64("uses", 1, "how many clients may register with it")
	return func(x cli, cf *connFlags, _ []string) int {
		if *ttl <= 0 {
			fmt.Fprintln(x.stderr, "authserver: create initial access token: --ttl must be positive")
			return 2
		}
		if *uses < 1 {
			fmt.Fprintln(x.stderr, "authserver: create initial access token: --uses must be at least 1")
			return 2
		}
		body := map[string]any{"ttl": ttl.String(), "uses": *uses}
		return x.call(cf, "create initial access token", http.MethodPost, "/admin/initial-access-tokens", body)
	}
}
