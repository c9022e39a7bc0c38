package reliability

import (
	"errors"
	"testing"
)

// The load's judgement of one answer: what a fault excuses and what it
// does not.
func TestAnomaly(t *testing.T) {
	unavailable := answer{status: 503, json: true, errCode: "temporarily_unavailable", retryAfter: "2"}
	for _, c := range []struct {
		name    string
		a       answer
		refresh bool
		bad     bool
	}{
		{"200", answer{status: 200, json: true}, true, false},
		{"503 as promised", unavailable, true, false},
		{"no answer (counted apart)", answer{err: errors.New("connection refused")}, true, false},
		{"invalid_grant on a refresh (a dead chain, counted apart)", answer{status: 400, json: true, errCode: "invalid_grant"}, true, false},
		{"500", answer{status: 500, json: true, errCode: "server_error"}, true, true},
		{"503 without Retry-After", answer{status: 503, json: true, errCode: "temporarily_unavailable"}, false, true},
		{"503 with another error", answer{status: 503, json: true, errCode: "server_error", retryAfter: "2"}, false, true},
		{"503 page, not JSON", answer{status: 503, retryAfter: "2"}, false, true},
		{"502 from nowhere", answer{status: 502}, false, true},
		{"invalid_grant on client_credentials", answer{status: 400, json: true, errCode: "invalid_grant"}, false, true},
		{"invalid_client", answer{status: 401, json: true, errCode: "invalid_client"}, true, true},
	} {
		if got := anomaly(c.a, c.refresh) != ""; got != c.bad {
			t.Errorf("%s: anomaly %q, want bad=%v", c.name, anomaly(c.a, c.refresh), c.bad)
		}
	}
}

func TestBackoffCapsRetryAfter(t *testing.T) {
	if d := (answer{status: 503, retryAfter: "2"}).backoff(); d != retryCap {
		t.Errorf("Retry-After 2: waits %v, want the cap %v", d, retryCap)
	}
	if d := (answer{status: 503, retryAfter: "0"}).backoff(); d != 0 {
		t.Errorf("Retry-After 0: waits %v", d)
	}
	if d := (answer{status: 200}).backoff(); d != pace {
		t.Errorf("after a success: waits %v, want %v", d, pace)
	}
}
