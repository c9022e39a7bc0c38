package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"authserver/clients"
)

// runClients is `authserver clients ...`: client management over the admin API.
func runClients(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(stdCLI(stdin, stdout, stderr), "clients", clientCommands(), args)
}

func clientCommands() []subcommand {
	byID := func(suffix string) func([]string) string {
		return func(a []string) string { return "/admin/clients/" + url.PathEscape(a[0]) + suffix }
	}
	return []subcommand{
		{name: "create", short: "register a client; prints its secret, shown only this once", setup: clientsCreate},
		simple("list", "", "list clients", "list clients", http.MethodGet, func([]string) string { return "/admin/clients" }),
		simple("get", "ID", "show a client", "get client", http.MethodGet, byID("")),
		simple("delete", "ID", "delete a client", "delete client", http.MethodDelete, byID("")),
		{name: "rotate-secret", args: "ID", nargs: 1, short: "give a client a new secret; the old one keeps working for --overlap", setup: clientsRotate},
		simple("disable", "ID", "disable a client (it can no longer authenticate or refresh)", "disable client", http.MethodPost, byID("/disable")),
		simple("enable", "ID", "re-enable a client", "enable client", http.MethodPost, byID("/enable")),
	}
}

func clientsCreate(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	var (
		reg                                 clients.Registration
		grants, scopes, redirects, audience string
		postLogoutRedirects                 string
		jwksFile                            string
	)
	fs.StringVar(&reg.Name, "name", "", "client name (required)")
	fs.StringVar(&grants, "grant-types", "", "comma-separated grant types: authorization_code, client_credentials, password, refresh_token")
	fs.StringVar(&scopes, "scopes", "", "scopes the client may ask for, space or comma separated")
	fs.StringVar(&redirects, "redirect-uris", "", "comma-separated redirect URIs (required for authorization_code)")
	fs.StringVar(&postLogoutRedirects, "post-logout-redirect-uris", "", "comma-separated URIs RP-initiated logout may return the user to")
	fs.StringVar(&reg.BackchannelLogoutURI, "backchannel-logout-uri", "", "URL that receives a logout token when a user's session ends")
	fs.StringVar(&audience, "audience", "", "comma-separated audiences of the client's access tokens")
	fs.BoolVar(&reg.Public, "public", false, "a public client (no secret; PKCE)")
	fs.StringVar(&reg.AuthMethod, "auth-method", "", "token endpoint auth method: client_secret_basic (default), client_secret_post, private_key_jwt (with --jwks-file or --jwks-uri), none (public)")
	fs.StringVar(&jwksFile, "jwks-file", "", "file holding the public JWK Set a private_key_jwt client signs its assertions with")
	fs.StringVar(&reg.JWKSURI, "jwks-uri", "", "https URL of the public JWK Set of a private_key_jwt client")
	fs.BoolVar(&reg.FirstParty, "first-party", false, "a first-party client (skips the consent page)")
	fs.StringVar(&reg.SubjectType, "subject-type", "", "OpenID Connect subject type: public (default) or pairwise (redirect URIs on one host, or listed at --sector-identifier-uri)")
	fs.StringVar(&reg.SectorIdentifierURI, "sector-identifier-uri", "", "https URL of a JSON array of the client's redirect URIs: a pairwise client's sector (its host)")
	return func(x cli, cf *connFlags, _ []string) int {
		if reg.Name == "" {
			fmt.Fprintln(x.stderr, "authserver: create client: --name is required")
			return 2
		}
		reg.GrantTypes = splitList(grants, false)
		reg.Scopes = splitList(scopes, true)
		reg.RedirectURIs = splitList(redirects, false)
		reg.Audience = splitList(audience, false)
		reg.PostLogoutRedirectURIs = splitList(postLogoutRedirects, false)
		if jwksFile != "" {
			set, err := os.ReadFile(jwksFile)
			if err != nil {
				fmt.Fprintf(x.stderr, "authserver: create client: --jwks-file: %v\n", err)
				return 2
			}
			if !json.Valid(set) {
				fmt.Fprintf(x.stderr, "authserver: create client: --jwks-file: %s is not JSON\n", jwksFile)
				return 2
			}
			reg.JWKS = set
		}
		return x.call(cf, "create client", http.MethodPost, "/admin/clients", reg)
	}
}

func clientsRotate(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	overlap := fs.Duration("overlap", 0, "how long the old secret keeps working, e.g. 1h (0: stops at once)")
	return func(x cli, cf *connFlags, args []string) int {
		if *overlap < 0 {
			fmt.Fprintln(x.stderr, "authserver: rotate client secret: --overlap must not be negative")
			return 2
		}
		body := map[string]string{}
		if *overlap > 0 {
			body["overlap"] = overlap.String()
		}
		return x.call(cf, "rotate client secret", http.MethodPost, "/admin/clients/"+url.PathEscape(args[0])+"/secret", body)
	}
}
