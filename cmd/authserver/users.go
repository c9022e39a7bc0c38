package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// runUsers is `authserver users ...`: user management over the admin API.
func runUsers(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(stdCLI(stdin, stdout, stderr), "users", userCommands(), args)
}

func userCommands() []subcommand {
	byID := func(suffix string) func([]string) string {
		return func(a []string) string { return "/admin/users/" + url.PathEscape(a[0]) + suffix }
	}
	return []subcommand{
		{name: "create", short: "create a user", setup: usersCreate},
		simple("list", "", "list users", "list users", http.MethodGet, func([]string) string { return "/admin/users" }),
		{name: "get", args: "ID|USERNAME", nargs: 1, short: "show a user, by ID or by username", setup: usersGet},
		simple("delete", "ID", "delete a user and revoke their refresh tokens", "delete user", http.MethodDelete, byID("")),
		{name: "update-profile", args: "ID", nargs: 1, short: "change a user's profile claims (only those given; \"\" removes one)", setup: usersUpdateProfile},
		{name: "set-password", args: "ID", nargs: 1, short: "set a user's password and revoke their refresh tokens", setup: usersSetPassword},
		simple("disable", "ID", "disable a user and revoke their refresh tokens", "disable user", http.MethodPost, byID("/disable")),
		simple("enable", "ID", "re-enable a user", "enable user", http.MethodPost, byID("/enable")),
		simple("families", "ID", "list where a user is signed in (refresh-token families)", "list families", http.MethodGet, byID("/families")),
		simple("sign-out", "ID", "sign a user out everywhere: revoke every refresh-token family", "sign out", http.MethodDelete, byID("/families")),
	}
}

// usersGet finds the user by ID, else by username: IDs are 32 hex digits,
// and a username may look like one too, so a miss by ID tries the name.
func usersGet(*flag.FlagSet) func(cli, *connFlags, []string) int {
	const what = "get user"
	return func(x cli, cf *connFlags, args []string) int {
		ac, err := cf.client(x.getenv)
		if err != nil {
			fmt.Fprintf(x.stderr, "authserver: %s: %v\n", what, err)
			return 1
		}
		ctx, arg := context.Background(), args[0]
		if looksLikeUserID(arg) {
			out, err := ac.do(ctx, http.MethodGet, "/admin/users/"+url.PathEscape(arg), nil)
			var ae *apiError
			if err == nil {
				return x.print(cf.fields, what, out)
			} else if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
				fmt.Fprintf(x.stderr, "authserver: %s: %v\n", what, err)
				return 1
			}
		}
		out, err := ac.do(ctx, http.MethodGet, "/admin/users?username="+url.QueryEscape(arg), nil)
		if err != nil {
			fmt.Fprintf(x.stderr, "authserver: %s: %v\n", what, err)
			return 1
		}
		var found struct {
			Users []json.RawMessage `json:"users"`
		}
		if err := json.Unmarshal(out, &found); err != nil {
			fmt.Fprintf(x.stderr, "authserver: %s: unexpected answer from the admin API: %v\n", what, err)
			return 1
		}
		if len(found.Users) == 0 {
			fmt.Fprintf(x.stderr, "authserver: %s: user not found: no user has the ID or username %q\n", what, arg)
			return 1
		}
		return x.print(cf.fields, what, found.Users[0])
	}
}

func looksLikeUserID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// passwordFlags are --password and --password-stdin; exactly one is needed.
type passwordFlags struct {
	value     string
	fromStdin bool
}

func (p *passwordFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.value, "password", "", "the password (visible to other local users in the process list; prefer --password-stdin)")
	fs.BoolVar(&p.fromStdin, "password-stdin", false, "read the password from the first line of stdin")
}

// read returns the password from the flag or from one line of stdin.
func (p *passwordFlags) read(stdin io.Reader) (string, error) {
	set := p.value != ""
	switch {
	case set && p.fromStdin:
		return "", errors.New("give either --password or --password-stdin, not both")
	case set:
		return p.value, nil
	case !p.fromStdin:
		return "", errors.New("a password is required: --password or --password-stdin")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

func usersCreate(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	var (
		username string
		pw       passwordFlags
		profile  profileFlags
	)
	fs.StringVar(&username, "username", "", "the username (required)")
	pw.register(fs)
	profile.register(fs, false)
	return func(x cli, cf *connFlags, _ []string) int {
		if strings.TrimSpace(username) == "" {
			fmt.Fprintln(x.stderr, "authserver: create user: --username is required")
			return 2
		}
		body, err := profile.claims(false)
		if err != nil {
			fmt.Fprintf(x.stderr, "authserver: create user: %v\n", err)
			return 2
		}
		password, err := pw.read(x.stdin)
		if err != nil {
			fmt.Fprintf(x.stderr, "authserver: create user: %v\n", err)
			return 2
		}
		body["username"], body["password"] = username, password
		return x.call(cf, "create user", http.MethodPost, "/admin/users", body)
	}
}

func usersSetPassword(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	var pw passwordFlags
	pw.register(fs)
	return func(x cli, cf *connFlags, args []string) int {
		password, err := pw.read(x.stdin)
		if err != nil {
			fmt.Fprintf(x.stderr, "authserver: set password: %v\n", err)
			return 2
		}
		return x.call(cf, "set password", http.MethodPut, "/admin/users/"+url.PathEscape(args[0])+"/password",
			map[string]string{"password": password})
	}
}
