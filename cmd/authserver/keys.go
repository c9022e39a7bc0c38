package main

import (
	"io"
	"net/http"
)

// runKeys is `authserver keys ...`: signing-key management over the admin API.
func runKeys(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(stdCLI(stdin, stdout, stderr), "keys", keyCommands(), args)
}

func keyCommands() []subcommand {
	return []subcommand{
		simple("rotate", "", "add a new signing key and sign with it from now on", "rotate keys", http.MethodPost,
			func([]string) string { return "/admin/keys/rotate" }),
	}
}
