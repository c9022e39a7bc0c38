package grants

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// validDescription is the RFC 6749 §5.2 character set of error_description.
func validDescription(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == 0x20 || c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e) {
			return false
		}
	}
	return true
}

func TestErrorDescription(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"invalid username or password", "invalid username or password"},
		{`parameter "<b>x\é" is repeated`, `parameter '<b>x/?' is repeated`},
		{"line\r\nbreak\x00\x7f", "line??break??"},
		{"bad \xff byte", "bad ? byte"},
		{"RFC 7591 §2.1", "RFC 7591 ?2.1"},
		{"emoji 🔑 key", "emoji ? key"},
		{"", ""},
	} {
		got := ErrorDescription(tc.in)
		if got != tc.want {
			t.Errorf("ErrorDescription(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !validDescription(got) {
			t.Errorf("ErrorDescription(%q) = %q: outside the RFC 6749 character set", tc.in, got)
		}
	}
	// Every byte value, alone: the output is always in the set.
	for c := 0; c < 256; c++ {
		if got := ErrorDescription(string([]byte{byte(c)})); !validDescription(got) || len(got) != 1 {
			t.Errorf("byte %#x -> %q", c, got)
		}
	}
	// go-oauth2's own descriptions, which it renders without our help,
	// are already in the set.
	for code, d := range oerrors.Descriptions {
		if !validDescription(d) {
			t.Errorf("go-oauth2's description of %v is outside the set: %q", code, d)
		}
	}
}

// The token endpoint's renderer cleans every typed error's description,
// whatever words the error was made with.
func TestWriteErrorCleansDescription(t *testing.T) {
	e := &Endpoint{audit: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	e.writeError(rec, httptest.NewRequest(http.MethodPost, "/token", nil), oauthErr(oerrors.ErrInvalidRequest, "%s", `bad "x\é"`))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if d := body["error_description"]; d != `bad 'x/?'` || !validDescription(d) {
		t.Fatalf("description %q", d)
	}
}
