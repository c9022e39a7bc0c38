package dpop

import (
	"net/http"
	"testing"
)

func TestHeaderValue(t *testing.T) {
	h := http.Header{}
	if v, err := HeaderValue(h); v != "" || err != nil {
		t.Fatalf("no header: %q, %v", v, err)
	}
	h.Set("DPoP", "a.b.c")
	if v, err := HeaderValue(h); v != "a.b.c" || err != nil {
		t.Fatalf("one header: %q, %v", v, err)
	}
	h.Add("Dpop", "d.e.f")
	_, err := HeaderValue(h)
	wantRefused(t, err, ErrInvalidProof, "more than one DPoP header")
}
