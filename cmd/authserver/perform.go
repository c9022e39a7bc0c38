package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// runPerform runs one flow against a server with golang.org/x/oauth2, the
// way a real client would, and prints the token response: a smoke test or
// a demo in one command.
func runPerform(args []string, stdout, stderr io.Writer) int {
	const head = "usage: authserver perform client-credentials|password|refresh [flags]\n\nrun one flow against a server and print the token response it sent\n"
	flow := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		flow, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("authserver perform", flag.ContinueOnError)
	issuer := fs.String("issuer", performEnv("AUTHSERVER_ISSUER", "http://localhost:8080"), "server base URL (env AUTHSERVER_ISSUER)")
	id := fs.String("client-id", os.Getenv("AUTHSERVER_CLIENT_ID"), "client id (env AUTHSERVER_CLIENT_ID)")
	secret := fs.String("client-secret", os.Getenv("AUTHSERVER_CLIENT_SECRET"), "client secret (env AUTHSERVER_CLIENT_SECRET)")
	scope := fs.String("scope", "", "space-separated scopes to ask for")
	username := fs.String("username", "", "user name (password flow)")
	password := fs.String("password", "", "password (password flow)")
	refresh := fs.String("refresh-token", "", "refresh token (refresh flow)")
	fields := fs.String("fields", "", fieldsUsage)
	if code, done := parseFlags(fs, args, head, stdout, stderr); done {
		return code
	}
	if flow == "" {
		fmt.Fprintf(stderr, "authserver: perform: name a flow\n\n%s", head)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var scopes []string
	if *scope != "" {
		scopes = strings.Fields(*scope)
	}
	endpoint := oauth2.Endpoint{TokenURL: strings.TrimSuffix(*issuer, "/") + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	conf := oauth2.Config{ClientID: *id, ClientSecret: *secret, Endpoint: endpoint, Scopes: scopes}

	var tok *oauth2.Token
	var err error
	switch flow {
	case "client-credentials":
		cc := clientcredentials.Config{ClientID: *id, ClientSecret: *secret, TokenURL: endpoint.TokenURL, Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
		tok, err = cc.Token(ctx)
	case "password":
		tok, err = conf.PasswordCredentialsToken(ctx, *username, *password)
	case "refresh":
		tok, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: *refresh, Expiry: time.Unix(1, 0)}).Token()
	default:
		fmt.Fprintf(stderr, "authserver: perform: unknown flow %q (client-credentials, password, refresh)\n", flow)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "authserver: perform %s: %v\n", flow, err)
		return 1
	}
	// The fields as the server sent them: x/oauth2's Token keeps the raw
	// response behind Extra, while its ExpiresIn is zeroed once Expiry is
	// computed.
	out := map[string]any{}
	for _, k := range []string{"access_token", "token_type", "expires_in", "refresh_token", "scope"} {
		if v := tok.Extra(k); v != nil {
			out[k] = v
		}
	}
	if *fields != "" {
		b, _ := json.Marshal(out)
		if err := printFields(stdout, b, *fields); err != nil {
			fmt.Fprintf(stderr, "authserver: perform %s: %v\n", flow, err)
			return 1
		}
		return 0
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
	return 0
}

func performEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
