// Command authserver is the OAuth 2.0 authorization server: `serve` runs
// it; `clients`, `users` and `keys` manage it through the admin API.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage: authserver <command> [flags]

commands:
  serve      run the server (public and admin listeners)
  clients    manage OAuth clients (create, list, get, delete, rotate-secret, disable, enable)
  users      manage users (create, list, get, delete, set-password, disable, enable, families, sign-out)
  keys       manage signing keys (rotate)
  initial-access-tokens
             create tokens that let partners register clients at /register (create)
  perform    run a flow against a server (client-credentials, password, refresh)
  bench      load benchmark: ours on each store beside a go-oauth2 baseline

Run 'authserver <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "clients":
		return runClients(args[1:], stdin, stdout, stderr)
	case "users":
		return runUsers(args[1:], stdin, stdout, stderr)
	case "keys":
		return runKeys(args[1:], stdin, stdout, stderr)
	case "initial-access-tokens":
		return runInitialAccessTokens(args[1:], stdin, stdout, stderr)
	case "perform":
		return runPerform(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "authserver: unknown command %q\n\n%s", args[0], usage)
	return 2
}
