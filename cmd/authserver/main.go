// Command authserver is the OAuth 2.0 authorization server: `serve` runs
// it; `clients`, `users` and `keys` manage it and `backup` copies its store,
// through the admin API.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"authserver/app"
)

const usage = `usage: authserver <command> [flags]

commands:
  serve      run the server (public and admin listeners)
  clients    manage OAuth clients (create, list, get, delete, rotate-secret, disable, enable)
  users      manage users (create, list, get, delete, set-password, disable, enable, families, sign-out)
  keys       manage signing keys (list, rotate, retire)
  resources  manage protected resources for RFC 8707 resource indicators (create, list, delete)
  initial-access-tokens
             create tokens that let partners register clients at /register (create)
  backup     copy a running server's embedded store to a file (--out FILE)
  perform    run a flow against a server (client-credentials, password, refresh)
  bench      load benchmark: ours on each store beside go-oauth2 and node-oidc-provider
  version    print the version, VCS revision and Go version of this binary

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
		return runServe(args[1:], stdout, stderr)
	case "clients":
		return runClients(args[1:], stdin, stdout, stderr)
	case "users":
		return runUsers(args[1:], stdin, stdout, stderr)
	case "keys":
		return runKeys(args[1:], stdin, stdout, stderr)
	case "resources":
		return runResources(args[1:], stdin, stdout, stderr)
	case "initial-access-tokens":
		return runInitialAccessTokens(args[1:], stdin, stdout, stderr)
	case "backup":
		return runBackup(args[1:], stdout, stderr)
	case "perform":
		return runPerform(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "authserver: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// runVersion prints what app.BuildInfo reads from the binary.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authserver version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print it as JSON")
	if code, done := parseFlags(fs, args, "usage: authserver version [flags]\n\nprint the version, VCS revision and Go version of this binary\n", stdout, stderr); done {
		return code
	}
	b := app.BuildInfo()
	if *asJSON {
		json.NewEncoder(stdout).Encode(b)
		return 0
	}
	fmt.Fprintln(stdout, b)
	return 0
}

// parseFlags parses args with fs for a command without subcommands: asked-for
// help goes to stdout and exits 0, a mistake goes to stderr and exits 2;
// done says the command should return code now.
func parseFlags(fs *flag.FlagSet, args []string, head string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s\nflags:\n", head)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "authserver: %s: %v\n\n", fs.Name()[len("authserver "):], err)
		usage(stderr)
		return 2, true
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "authserver: %s: unexpected argument %q\n\n", fs.Name()[len("authserver "):], fs.Arg(0))
		usage(stderr)
		return 2, true
	}
	return 0, false
}
