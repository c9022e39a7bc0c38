package resource_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"authserver/resource"
)

func decode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func encode(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func header(t *testing.T, token string) string {
	t.Helper()
	return decode(t, strings.Split(token, ".")[0])
}

func errAs(err error, target **resource.Error) bool { return errors.As(err, target) }

func refusedAs(t *testing.T, name string, err, reason error) {
	t.Helper()
	if !errors.Is(err, reason) {
		t.Errorf("%s: %v, want %q", name, err, reason)
	}
}
