package storetest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Dumper yields every key and value a backend holds, each as its own item
// with a label saying where it was found: for the embedded store every key
// and value of every bucket at any depth (and the file's bytes), for Redis
// every key and, by type, its value, fields, members or entries, on every
// master. A dumper must not skip what it does not understand: it returns an
// error instead, so the scan cannot pass by not looking.
type Dumper func(yield func(where string, data []byte)) error

// Secret is one value the server handled that must never reach the store in
// a usable form: a client secret, a token, a password, a key.
type Secret struct {
	Name  string // what it is, for the failure message
	Value []byte
}

// minSecretLen is the shortest secret the scan accepts: shorter values could
// appear in a store by chance and make the check meaningless.
const minSecretLen = 12

// Finding is a secret seen in the store.
type Finding struct {
	Secret string // Secret.Name
	Form   string // how it appeared: raw, hex, base64url, ...
	Where  string // the dumper's label
}

// ScanForSecrets fails t for every secret that appears anywhere dump yields,
// raw or in a form that gives it back (see FindSecrets). Hashes of secrets
// are what the store should hold, and are not looked for. It also fails
// when the dump is empty: an empty dump proves nothing.
func ScanForSecrets(t testing.TB, dump Dumper, secrets []Secret) {
	t.Helper()
	found, items, err := FindSecrets(dump, secrets)
	if err != nil {
		t.Fatalf("scan for secrets: %v", err)
	}
	if items == 0 {
		t.Fatal("scan for secrets: the dump yielded nothing")
	}
	for _, f := range found {
		t.Errorf("the store holds %s (%s) in %s", f.Secret, f.Form, f.Where)
	}
	t.Logf("scanned %d items of the store for %d secrets", items, len(secrets))
}

// FindSecrets returns where each secret appears in what dump yields, and
// how many items it yielded. A secret is looked for raw; as lower and upper
// hex; as base64 in both alphabets, padded or not, alone or inside a longer
// base64 text at any byte offset (as a []byte field of a JSON record would
// be); as a JSON string; and, when the secret is itself base64url text (as
// the server's tokens are) or hex text (as the generated key encryption
// secret is), the bytes it decodes to, in each of those forms.
func FindSecrets(dump Dumper, secrets []Secret) ([]Finding, int, error) {
	type needle struct {
		secret, form string
		b            []byte
	}
	var needles []needle
	for _, s := range secrets {
		if len(s.Value) < minSecretLen {
			return nil, 0, fmt.Errorf("secret %s is %d bytes; need at least %d to be found only where it is", s.Name, len(s.Value), minSecretLen)
		}
		for _, f := range forms(s.Value) {
			needles = append(needles, needle{s.Name, f.name, f.b})
		}
		for _, dec := range []struct {
			name   string
			decode func(string) ([]byte, error)
		}{{"decoded", base64.RawURLEncoding.DecodeString}, {"hex-decoded", hex.DecodeString}} {
			if raw, err := dec.decode(string(s.Value)); err == nil && len(raw) >= minSecretLen {
				for _, f := range forms(raw) {
					needles = append(needles, needle{s.Name, dec.name + ", " + f.name, f.b})
				}
			}
		}
	}
	var found []Finding
	items := 0
	err := dump(func(where string, data []byte) {
		items++
		for _, n := range needles {
			if bytes.Contains(data, n.b) {
				found = append(found, Finding{n.secret, n.form, where})
			}
		}
	})
	return dedupe(found), items, err
}

// form is one encoding of a secret to look for.
type form struct {
	name string
	b    []byte
}

// forms returns the encodings of v to look for, the most telling first.
func forms(v []byte) []form {
	out := []form{
		{"raw", v},
		{"hex", []byte(hex.EncodeToString(v))},
		{"HEX", []byte(strings.ToUpper(hex.EncodeToString(v)))},
	}
	if j, err := json.Marshal(string(v)); err == nil && !bytes.Equal(j[1:len(j)-1], v) {
		out = append(out, form{"JSON string", j[1 : len(j)-1]})
	}
	alphabets := []struct {
		name string
		enc  *base64.Encoding
	}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}}
	for _, a := range alphabets {
		out = append(out,
			form{a.name, []byte(a.enc.EncodeToString(v))},
			form{a.name + " unpadded", []byte(a.enc.WithPadding(base64.NoPadding).EncodeToString(v))})
	}
	for _, a := range alphabets {
		// Inside a longer base64 text, v's encoding depends on its offset
		// mod 3 and on its neighbours: look for the characters that encode
		// only v's bytes at each offset.
		for off := range 3 {
			buf := append(make([]byte, off), v...)
			e := a.enc.WithPadding(base64.NoPadding).EncodeToString(buf)
			start, end := 0, 4*(len(buf)/3)
			if off > 0 {
				start = 4
			}
			if end-start >= 16 {
				out = append(out, form{fmt.Sprintf("%s inside longer base64, offset %d", a.name, off), []byte(e[start:end])})
			}
		}
	}
	return out
}

// dedupe keeps the first form found of each secret in each place.
func dedupe(fs []Finding) []Finding {
	seen := map[[2]string]bool{}
	var out []Finding
	for _, f := range fs {
		k := [2]string{f.Secret, f.Where}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}
