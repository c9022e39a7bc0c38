package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"authserver/server/admin"
)

// runResources is `authserver resources ...`: the RFC 8707 protected
// resources, over the admin API.
func runResources(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(stdCLI(stdin, stdout, stderr), "resources", resourceCommands(), args)
}

func resourceCommands() []subcommand {
	return []subcommand{
		{name: "create", short: "register a protected resource: the aud of the tokens minted for it, and the scopes it accepts", setup: resourcesCreate},
		simple("list", "", "list protected resources", "list resources", http.MethodGet, func([]string) string { return "/admin/resources" }),
		simple("delete", "URI", "delete a protected resource (tokens already minted for it run out on their own)", "delete resource", http.MethodDelete,
			func(a []string) string { return "/admin/resources?uri=" + url.QueryEscape(a[0]) }),
	}
}

func resourcesCreate(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	var (
		req    admin.ResourceRequest
		scopes string
	)
	fs.StringVar(&req.URI, "uri", "", "the resource identifier: an https URL (http on a loopback host) without query or fragment (required)")
	fs.StringVar(&req.Name, "name", "", "a name for people (required)")
	fs.StringVar(&scopes, "scopes", "", "the scopes the resource accepts, space or comma separated (required)")
	ttl := fs.Duration("access-token-ttl", 0, "lifetime of its access tokens, e.g. 10m (0: tokens.access_ttl, which it can only shorten)")
	return func(x cli, cf *connFlags, _ []string) int {
		switch {
		case req.URI == "":
			fmt.Fprintln(x.stderr, "authserver: create resource: --uri is required")
			return 2
		case req.Name == "":
			fmt.Fprintln(x.stderr, "authserver: create resource: --name is required")
			return 2
		case *ttl < 0:
			fmt.Fprintln(x.stderr, "authserver: create resource: --access-token-ttl must not be negative")
			return 2
		}
		req.Scopes = splitList(scopes, true)
		if *ttl > 0 {
			req.AccessTokenTTL = ttl.String()
		}
		return x.call(cf, "create resource", http.MethodPost, "/admin/resources", req)
	}
}
