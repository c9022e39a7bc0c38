package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"authserver/server/admin"
)

// Defaults for reaching the admin API.
const (
	defaultAdminURL = "http://127.0.0.1:8081"
	defaultDataDir  = "./data"
)

// cli is what a management command runs with. getenv is a field so tests
// can drive the environment without touching the process's own.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// connFlags are the admin connection flags every management command takes.
type connFlags struct {
	url, token, dataDir string
	fields              string
}

func (c *connFlags) register(fs *flag.FlagSet) {
	c.registerConn(fs)
	fs.StringVar(&c.fields, "fields", "", fieldsUsage)
}

// registerConn registers only the connection flags, for a command whose
// answer is not JSON.
func (c *connFlags) registerConn(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "admin-url", "", "admin API base URL (env AUTHSERVER_ADMIN_URL, default "+defaultAdminURL+")")
	fs.StringVar(&c.token, "admin-token", "", "admin bearer token (env AUTHSERVER_ADMIN_TOKEN, default: read <data-dir>/admin.token)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory holding admin.token (env AUTHSERVER_DATA_DIR, default "+defaultDataDir+")")
}

// client resolves the connection settings: flag, then environment, then
// default; the token file is read only when no token was given.
func (c *connFlags) client(env func(string) string) (*adminClient, error) {
	base := firstNonEmpty(c.url, env("AUTHSERVER_ADMIN_URL"), defaultAdminURL)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid admin URL %q: want http(s)://host:port", base)
	}
	token := firstNonEmpty(c.token, env("AUTHSERVER_ADMIN_TOKEN"))
	if token == "" {
		dir := firstNonEmpty(c.dataDir, env("AUTHSERVER_DATA_DIR"), defaultDataDir)
		token, err = admin.ReadToken(dir)
		if err != nil {
			return nil, fmt.Errorf("no admin token: pass --admin-token, set AUTHSERVER_ADMIN_TOKEN, or point --data-dir at the server's data directory (%v)", err)
		}
	}
	return &adminClient{
		base:  strings.TrimRight(base, "/"),
		token: token,
		http:  &http.Client{Timeout: 30 * time.Second},
	}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// adminClient calls the admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// apiError is an error answer from the admin API.
type apiError struct {
	Status      int
	Code        string
	Description string
}

func (e *apiError) Error() string {
	switch {
	case e.Description != "":
		return e.Description
	case e.Code != "":
		return e.Code
	default:
		return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
}

// do sends one request (body marshalled as JSON when not nil) and returns
// the response body of a 2xx answer; anything else is an *apiError or a
// transport error.
func (c *adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is named once, below
		}
		return nil, fmt.Errorf("cannot reach the admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	// Admin answers are small; the cap only guards against a wrong URL.
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the admin API's answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, answerError(resp.StatusCode, out)
	}
	return out, nil
}

// answerError is the *apiError for a non-2xx answer with body out.
func answerError(status int, out []byte) *apiError {
	e := &apiError{Status: status}
	var er admin.ErrorResponse
	if json.Unmarshal(out, &er) == nil {
		e.Code, e.Description = er.Error, er.Description
	}
	return e
}

// call runs one request and prints its answer, indented, to stdout. what
// names the operation in the one-line error message.
func (x cli) call(cf *connFlags, what, method, path string, body any) int {
	ac, err := cf.client(x.getenv)
	if err != nil {
		fmt.Fprintf(x.stderr, "authserver: %s: %v\n", what, err)
		return 1
	}
	out, err := ac.do(context.Background(), method, path, body)
	if err != nil {
		fmt.Fprintf(x.stderr, "authserver: %s: %v\n", what, err)
		return 1
	}
	return x.print(cf.fields, what, out)
}

// print writes an admin API answer to stdout: indented, or only the named
// fields (see printFields).
func (x cli) print(fields, what string, out []byte) int {
	if fields != "" {
		if err := printFields(x.stdout, out, fields); err != nil {
			fmt.Fprintf(x.stderr, "authserver: %s: %v\n", what, err)
			return 1
		}
		return 0
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return 0 // 204: nothing to print
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		fmt.Fprintf(x.stderr, "authserver: %s: the admin API answered with something other than JSON\n", what)
		return 1
	}
	buf.WriteByte('\n')
	x.stdout.Write(buf.Bytes())
	return 0
}

// subcommand is one `authserver <group> <name>` command.
type subcommand struct {
	name  string
	args  string // positional arguments, for the usage line
	short string
	// setup registers the command's own flags and returns the command; it
	// gets the positional arguments, already checked against nargs.
	setup func(fs *flag.FlagSet) func(x cli, cf *connFlags, args []string) int
	nargs int
}

// dispatch runs the subcommand args[0] of group. Flags go before
// positional arguments, the standard flag package way.
func dispatch(x cli, group string, cmds []subcommand, args []string) int {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: authserver %s <command> [flags] [args]\n\ncommands:\n", group)
		for _, c := range cmds {
			fmt.Fprintf(w, "  %-18s %s\n", strings.TrimSpace(c.name+" "+c.args), c.short)
		}
		fmt.Fprintf(w, "\nRun 'authserver %s <command> -h' for a command's flags.\n", group)
	}
	if len(args) == 0 {
		usage(x.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(x.stdout)
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("authserver "+group+" "+c.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard) // parse errors are reported below, in our format
		var cf connFlags
		cf.register(fs)
		run := c.setup(fs)
		cmdUsage := func(w io.Writer) {
			fmt.Fprintf(w, "usage: authserver %s %s [flags] %s\n\n%s\n\nflags:\n", group, c.name, c.args, c.short)
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
		// Usage is printed here rather than by the flag package, so asked-for
		// help goes to stdout and a mistake's usage to stderr.
		fs.Usage = func() {}
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				cmdUsage(x.stdout)
				return 0
			}
			fmt.Fprintf(x.stderr, "authserver: %s %s: %v\n", group, c.name, err)
			if c.nargs > 0 && strings.HasPrefix(err.Error(), "flag provided but not defined") {
				// Generated IDs are base64url and may begin with "-".
				fmt.Fprintf(x.stderr, "(an %s that begins with \"-\" goes after \"--\": authserver %s %s [flags] -- %s)\n", c.args, group, c.name, c.args)
			}
			cmdUsage(x.stderr)
			return 2
		}
		rest := fs.Args()
		if msg := checkArgs(rest, c.nargs, c.args); msg != "" {
			fmt.Fprintf(x.stderr, "authserver: %s %s: %s\n", group, c.name, msg)
			cmdUsage(x.stderr)
			return 2
		}
		return run(x, &cf, rest)
	}
	fmt.Fprintf(x.stderr, "authserver: %s: unknown command %q\n\n", group, args[0])
	usage(x.stderr)
	return 2
}

// checkArgs says what is wrong with the positional arguments, or "".
func checkArgs(rest []string, n int, names string) string {
	switch {
	case len(rest) > n && strings.HasPrefix(rest[n], "-"):
		return fmt.Sprintf("flag %s must come before %s", rest[n], names)
	case len(rest) > n:
		return fmt.Sprintf("unexpected argument %q", rest[n])
	case len(rest) < n:
		return "missing " + names
	}
	for _, a := range rest {
		// An empty ID would address the collection instead of a record.
		if strings.TrimSpace(a) == "" {
			return "empty " + names
		}
	}
	return ""
}

// simple is a subcommand with no flags of its own that sends one bodiless
// request; path builds the URL path from the positional arguments (named
// in args, space separated).
func simple(name, args, short, what, method string, path func(args []string) string) subcommand {
	return subcommand{name: name, args: args, short: short, nargs: len(strings.Fields(args)),
		setup: func(*flag.FlagSet) func(cli, *connFlags, []string) int {
			return func(x cli, cf *connFlags, a []string) int {
				return x.call(cf, what, method, path(a), nil)
			}
		}}
}

// splitList splits a flag value on commas and, with spaces, on whitespace
// too, dropping empty items.
func splitList(s string, spaces bool) []string {
	out := []string{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || (spaces && (r == ' ' || r == '\t' || r == '\n'))
	}) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// stdCLI runs with the process's own environment: what main dispatches to.
func stdCLI(stdin io.Reader, stdout, stderr io.Writer) cli {
	return cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
}

const fieldsUsage = "print only these top-level fields of the answer, comma-separated, tab-separated on one line (for shell captures: read -r ID SECRET < <(...))"

// printFields writes the values of the named top-level fields of the JSON
// object out, tab-separated on one line: strings as they are, anything else
// as JSON. A field the answer lacks is an error, so that a shell capture
// never silently gets an empty value.
func printFields(w io.Writer, out []byte, fields string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(out, &obj); err != nil {
		return errors.New("--fields: the answer is not a JSON object")
	}
	var vals []string
	for _, f := range splitList(fields, false) {
		raw, ok := obj[f]
		if !ok {
			return fmt.Errorf("--fields: the answer has no field %q", f)
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		vals = append(vals, s)
	}
	_, err := fmt.Fprintln(w, strings.Join(vals, "\t"))
	return err
}
