package main

import (
	"flag"
	"io"
	"net/http"
	"net/url"
)

// runKeys is `authserver keys ...`: signing-key management over the admin API.
func runKeys(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(stdCLI(stdin, stdout, stderr), "keys", keyCommands(), args)
}

func keyCommands() []subcommand {
	return []subcommand{
		simple("list", "", "list signing keys: kid, alg, state, created_at, signs_from, retires_at", "list keys", http.MethodGet,
			func([]string) string { return "/admin/keys" }),
		{name: "rotate", short: "add a signing key, published at once, signing after signing.publish_ahead", setup: keysRotate},
		{name: "retire", args: "KID", nargs: 1, short: "retire a key that no longer signs: it leaves JWKS once the tokens it signed have expired", setup: keysRetire},
	}
}

func keysRetire(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	now := fs.Bool("now", false, "retire at once: every token the key signed stops verifying (a compromised key, after rotate --now)")
	return func(x cli, cf *connFlags, args []string) int {
		return x.call(cf, "retire key", http.MethodPost, "/admin/keys/"+url.PathEscape(args[0])+"/retire", map[string]bool{"now": *now})
	}
}

func keysRotate(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	now := fs.Bool("now", false, "sign with the new key at once (a compromised key); resource servers with a cached JWKS reject new tokens until they refetch it")
	return func(x cli, cf *connFlags, _ []string) int {
		return x.call(cf, "rotate keys", http.MethodPost, "/admin/keys/rotate", map[string]bool{"now": *now})
	}
}
