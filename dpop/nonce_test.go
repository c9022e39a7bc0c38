package dpop

import (
	"testing"
	"time"
)

func TestNoncesRotateAcrossWindows(t *testing.T) {
	n := NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute)
	start := time.Unix(1_800_000_000, 0).Truncate(time.Minute)

	first := n.Current(start)
	if n.Current(start.Add(59*time.Second)) != first {
		t.Fatal("nonce changed within its window")
	}
	second := n.Current(start.Add(time.Minute))
	if second == first {
		t.Fatal("nonce did not change with the window")
	}
	for _, c := range []struct {
		nonce string
		at    time.Duration
		valid bool
	}{
		{first, 0, true},
		{first, 59 * time.Second, true},
		{first, time.Minute, true},                  // previous window
		{first, 2*time.Minute - time.Second, true},  // still previous
		{first, 2 * time.Minute, false},             // two windows ago
		{second, 0, false},                          // the future
		{second, 2*time.Minute + time.Second, true}, // previous
	} {
		if got := n.Valid(c.nonce, start.Add(c.at)); got != c.valid {
			t.Errorf("nonce at +%v: valid %v, want %v", c.at, got, c.valid)
		}
	}
}

func TestNoncesRefuseForeignAndMalformed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	n := NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute)
	other := NewNonces([]byte("another secret, another server.."), time.Minute)
	current := n.Current(now)
	for _, nonce := range []string{other.Current(now), "", "AAAA", current + "A", current[:len(current)-1], current + "="} {
		if n.Valid(nonce, now) {
			t.Errorf("nonce %q accepted", nonce)
		}
	}
	// Another node with the same secret accepts it: no shared state.
	if !NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute).Valid(current, now) {
		t.Fatal("a node with the same secret refused the nonce")
	}
}
