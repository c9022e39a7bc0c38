package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func runMain(args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// Asked-for help is a success on stdout and lists the command's own flags.
func TestHelpExitsZeroEverywhere(t *testing.T) {
	cases := []struct {
		args []string
		flag string // one of the command's own flags
	}{
		{[]string{"-h"}, "perform"},
		{[]string{"--help"}, "perform"},
		{[]string{"help"}, "perform"},
		{[]string{"serve", "-h"}, "-listen"},
		{[]string{"serve", "--help"}, "-redis-url"},
		{[]string{"perform", "-h"}, "-client-id"},
		{[]string{"perform", "password", "--help"}, "-username"},
		{[]string{"clients", "create", "-h"}, "-grant-types"},
		{[]string{"users", "--help"}, "set-password"},
		{[]string{"users", "create", "--help"}, "-password-stdin"},
		{[]string{"keys", "rotate", "-h"}, "-admin-url"},
		{[]string{"initial-access-tokens", "create", "-h"}, "-uses"},
		{[]string{"bench", "-h"}, "-concurrency"},
		{[]string{"version", "-h"}, "-json"},
		{[]string{"backup", "-h"}, "-force"},
		{[]string{"backup", "--help"}, "-out"},
	}
	for _, c := range cases {
		r := runMain(c.args...)
		if r.code != 0 || !strings.Contains(r.stdout, c.flag) {
			t.Errorf("%v: exit %d, stdout %q (want %q), stderr %q", c.args, r.code, r.stdout, c.flag, r.stderr)
		}
	}
}

func TestMistakesExitTwo(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{nil, "usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve", "--no-such-flag"}, "no-such-flag"},
		{[]string{"perform"}, "name a flow"},
		{[]string{"perform", "teleport"}, `unknown flow "teleport"`},
		{[]string{"perform", "password", "--nope"}, "nope"},
		{[]string{"clients", "create", "--nope"}, "nope"},
		{[]string{"bench", "--nope"}, "nope"},
		{[]string{"version", "--nope"}, "nope"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"backup"}, "--out is required"},
		{[]string{"backup", "--nope"}, "nope"},
	}
	for _, c := range cases {
		r := runMain(c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q (want %q), stdout %q", c.args, r.code, r.stderr, c.msg, r.stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runMain("version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "authserver ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runMain("version", "--json")
	if m := r.json(t); r.code != 0 || m["go_version"] != runtime.Version() || m["version"] == "" {
		t.Errorf("version --json: exit %d, %v", r.code, m)
	}
}
