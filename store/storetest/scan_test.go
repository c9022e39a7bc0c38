package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The scan finds a secret in every form a store could hold it in, and not
// its hash.
func TestFindSecrets(t *testing.T) {
	// Random bytes whose base64url text differs from their base64, so a
	// form found is the form expected.
	raw := make([]byte, 32)
	var token string // as the server's tokens are
	for !strings.ContainsAny(token, "-_") {
		rand.Read(raw)
		token = base64.RawURLEncoding.EncodeToString(raw)
	}
	sum := sha256.Sum256([]byte(token))
	// blob is a JSON record with v inside a []byte field, after prefix
	// bytes and before one more.
	blob := func(prefix int, v []byte) []byte {
		b, _ := json.Marshal(struct{ B []byte }{append(append(make([]byte, prefix), v...), 0xff)})
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string // form, "" for none
	}{
		{"raw in JSON", []byte(`{"t":"` + token + `"}`), "raw"},
		{"hex", []byte("k:" + hex.EncodeToString([]byte(token))), "hex"},
		{"HEX", []byte(strings.ToUpper(hex.EncodeToString([]byte(token)))), "HEX"},
		{"base64", []byte(base64.StdEncoding.EncodeToString([]byte(token))), "base64"},
		{"decoded bytes", raw, "decoded, raw"},
		{"decoded, []byte field", blob(0, raw), "decoded, base64 inside longer base64, offset 0"},
		{"decoded, []byte field at offset 1", blob(1, raw), "decoded, base64 inside longer base64, offset 1"},
		{"decoded, []byte field at offset 2", blob(2, raw), "decoded, base64 inside longer base64, offset 2"},
		{"decoded, []byte field at offset 3", blob(3, raw), "decoded, base64 inside longer base64, offset 0"},
		{"decoded, alone in a []byte field", []byte(`{"B":"` + base64.StdEncoding.EncodeToString(raw) + `"}`), "decoded, base64"},
		{"decoded hex", []byte(hex.EncodeToString(raw)), "decoded, hex"},
		{"its SHA-256", sum[:], ""},
		{"its SHA-256 hex", []byte(hex.EncodeToString(sum[:])), ""},
		{"its SHA-256 in a []byte field", blob(0, sum[:]), ""},
		{"a prefix of it", []byte(token[:20]), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found, items, err := FindSecrets(func(yield func(string, []byte)) error {
				yield("other", []byte("nothing here"))
				yield("the item", tc.data)
				return nil
			}, []Secret{{"the token", []byte(token)}})
			if err != nil || items != 2 {
				t.Fatalf("FindSecrets: %d items, %v", items, err)
			}
			switch {
			case tc.want == "" && len(found) > 0:
				t.Fatalf("found %+v, want nothing", found)
			case tc.want != "" && (len(found) != 1 || found[0] != Finding{"the token", tc.want, "the item"}):
				t.Fatalf("found %+v, want the token as %s in the item", found, tc.want)
			}
		})
	}
}

// A secret that is hex text (the generated key encryption secret) is also
// looked for as the bytes it stands for.
func TestFindSecretsHexText(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	found, _, err := FindSecrets(func(yield func(string, []byte)) error {
		yield("the item", raw)
		return nil
	}, []Secret{{"the secret", []byte(hex.EncodeToString(raw))}})
	if err != nil || len(found) != 1 || found[0].Form != "hex-decoded, raw" {
		t.Fatalf("found %+v, %v; want the secret's bytes", found, err)
	}
}

func TestFindSecretsRefusesWhatCannotBeFound(t *testing.T) {
	nothing := func(func(string, []byte)) error { return nil }
	if _, _, err := FindSecrets(nothing, []Secret{{"short", []byte("hunter2")}}); err == nil {
		t.Fatal("a 7-byte secret was accepted: it could match by chance")
	}
	broken := errors.New("cannot read")
	if _, _, err := FindSecrets(func(func(string, []byte)) error { return broken }, []Secret{{"s", []byte("a long enough secret")}}); !errors.Is(err, broken) {
		t.Fatalf("a failing dump: %v", err)
	}
}
