package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// profileClaims are the OpenID Connect claims a user's profile holds, as
// flags: the flag is the claim with "-" for "_".
var profileClaims = []struct{ claim, usage string }{
	{"name", "full name"}, {"given_name", "given (first) name"}, {"family_name", "family (last) name"},
	{"middle_name", "middle name"}, {"nickname", "casual name"}, {"preferred_username", "shorthand name shown to others"},
	{"profile", "profile page URL (http or https)"}, {"picture", "picture URL (http or https)"},
	{"website", "web page or blog URL (http or https)"}, {"email", "email address"},
	{"gender", "gender"}, {"birthdate", "birthday: YYYY-MM-DD, 0000-MM-DD or YYYY"},
	{"zoneinfo", "time zone, like Europe/Paris"}, {"locale", "BCP 47 language tag, like en-US"},
	{"phone_number", "phone number in E.164, like +14155550100"},
}

// profileFlags are the profile claim flags of users create and
// update-profile.
type profileFlags struct {
	fs      *flag.FlagSet
	texts   map[string]*string
	flags   map[string]string // flag name → claim
	address string
	// verified claims are set through flags of their own, kept apart
	// because a bool flag has no empty value to remove it with.
	emailVerified, phoneVerified bool
}

func (p *profileFlags) register(fs *flag.FlagSet, removable bool) {
	p.fs, p.texts, p.flags = fs, map[string]*string{}, map[string]string{}
	hint := ""
	if removable {
		hint = ` ("" removes it)`
	}
	for _, c := range profileClaims {
		name := strings.ReplaceAll(c.claim, "_", "-")
		p.flags[name] = c.claim
		p.texts[c.claim] = fs.String(name, "", "profile claim "+c.claim+": "+c.usage+hint)
	}
	fs.BoolVar(&p.emailVerified, "email-verified", false, "profile claim email_verified: the email address was verified")
	fs.BoolVar(&p.phoneVerified, "phone-number-verified", false, "profile claim phone_number_verified: the phone number was verified")
	fs.StringVar(&p.address, "address", "", `profile claim address, as JSON: {"street_address":..,"locality":..,"region":..,"postal_code":..,"country":..,"formatted":..}`+hint)
}

// claims returns the claims of the flags given on the command line only.
// A flag given as "" is null (removed) when removable, else left out.
func (p *profileFlags) claims(removable bool) (map[string]any, error) {
	out := map[string]any{}
	var err error
	p.fs.Visit(func(f *flag.Flag) {
		switch claim, isText := p.flags[f.Name]; {
		case isText:
			setClaim(out, claim, *p.texts[claim], removable)
		case f.Name == "email-verified":
			out["email_verified"] = p.emailVerified
		case f.Name == "phone-number-verified":
			out["phone_number_verified"] = p.phoneVerified
		case f.Name == "address" && p.address != "":
			var a map[string]string
			if json.Unmarshal([]byte(p.address), &a) != nil {
				err = errors.New(`--address must be a JSON object of strings, like {"locality":"Oxford","country":"GB"}`)
			}
			out["address"] = a
		case f.Name == "address":
			setClaim(out, "address", "", removable)
		}
	})
	return out, err
}

func setClaim(out map[string]any, claim, v string, removable bool) {
	switch {
	case v != "":
		out[claim] = v
	case removable:
		out[claim] = nil
	}
}

// usersUpdateProfile is `users update-profile ID --email ...`: the claims
// given change, "" removes one, the others stay.
func usersUpdateProfile(fs *flag.FlagSet) func(cli, *connFlags, []string) int {
	var p profileFlags
	p.register(fs, true)
	return func(x cli, cf *connFlags, args []string) int {
		patch, err := p.claims(true)
		if err == nil && len(patch) == 0 {
			err = fmt.Errorf("nothing to change: give at least one claim flag (see -h)")
		}
		if err != nil {
			fmt.Fprintf(x.stderr, "authserver: update profile: %v\n", err)
			return 2
		}
		return x.call(cf, "update profile", http.MethodPatch, "/admin/users/"+url.PathEscape(args[0])+"/profile", patch)
	}
}
