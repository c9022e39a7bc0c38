package reliability

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"authserver/tokens"
)

const (
	// hangBound is the longest any request may take, fault or not: past
	// it a request counts as hanging.
	hangBound = 5 * time.Second
	// retryCap caps the Retry-After the load honours, so a test stays
	// short (the server asks for 2 s).
	retryCap = 200 * time.Millisecond
	// pace is each loop's pause after a success, so 2 cores under -race
	// still have room for the server and Redis.
	pace = 20 * time.Millisecond
	// chainCount is how many refresh chains (devices) the load drives.
	chainCount = 16
)

// chain is one device: it holds its current refresh token and moves on
// only on an acknowledged rotation (a 200).
type chain struct {
	family string
	token  string
	acked  int64     // rotations acknowledged since the test began
	dead   string    // the answer that ended it (invalid_grant), if any
	okAt   time.Time // its last acknowledged rotation
}

// load drives chainCount refresh chains and a client_credentials loop
// against one node and records what they see.
type load struct {
	base   string
	tn     tenant
	client *http.Client
	chains []*chain
	rec    recorder

	stop chan struct{}
	wg   sync.WaitGroup
}

// startLoad starts the loops against base; Stop ends them.
func startLoad(t *testing.T, base string, tn tenant) *load {
	t.Helper()
	l := &load{
		base:   base,
		tn:     tn,
		client: &http.Client{Timeout: 2 * hangBound, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		stop:   make(chan struct{}),
	}
	l.rec.byStatus = map[int]int{}
	for _, tok := range tn.tokens {
		fam, ok := tokens.ParseRefreshToken(tok)
		if !ok {
			t.Fatalf("refresh token %q does not parse", tok)
		}
		c := &chain{family: fam, token: tok}
		l.chains = append(l.chains, c)
		l.wg.Go(func() { l.refreshLoop(c) })
	}
	for range 2 {
		l.wg.Go(l.clientCredentialsLoop)
	}
	t.Cleanup(l.Stop)
	return l
}

// Stop ends the loops and waits for them. Safe to call more than once.
func (l *load) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

// sleep waits d or until Stop; false once stopped.
func (l *load) sleep(d time.Duration) bool {
	select {
	case <-l.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (l *load) refreshLoop(c *chain) {
	for {
		a := l.do(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.token}}, l.tn.app, true)
		pause := a.backoff()
		switch {
		case a.status == http.StatusOK:
			l.rec.rotated(c, a.refresh)
		case a.invalidGrant():
			l.rec.died(c, a.describe())
			return
		}
		if !l.sleep(pause) {
			return
		}
	}
}

func (l *load) clientCredentialsLoop() {
	for {
		a := l.do(url.Values{"grant_type": {"client_credentials"}}, l.tn.service, false)
		if !l.sleep(a.backoff()) {
			return
		}
	}
}

// answer is one /token response as the load sees it.
type answer struct {
	status     int // 0: no HTTP answer (connection refused, reset, timeout)
	err        error
	errCode    string // the JSON body's "error"
	json       bool
	retryAfter string
	refresh    string
	took       time.Duration
}

func (a answer) invalidGrant() bool {
	return a.status == http.StatusBadRequest && a.errCode == "invalid_grant"
}

// backoff is how long a loop waits before its next request: pace after a
// success, else the server's Retry-After capped at retryCap.
func (a answer) backoff() time.Duration {
	if a.status == http.StatusOK {
		return pace
	}
	if s, err := strconv.Atoi(a.retryAfter); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, retryCap)
	}
	return retryCap / 2
}

func (a answer) describe() string {
	if a.status == 0 {
		return fmt.Sprintf("no answer: %v", a.err)
	}
	return fmt.Sprintf("%d error=%q json=%v Retry-After=%q", a.status, a.errCode, a.json, a.retryAfter)
}

// do sends one /token request and records the answer.
func (l *load) do(v url.Values, cr credentials, refresh bool) answer {
	start := time.Now()
	r, err := postForm(l.client, l.base+"/token", v, cr)
	a := answer{status: r.status, err: err, json: r.body != nil, took: time.Since(start)}
	a.errCode, _ = r.body["error"].(string)
	a.refresh, _ = r.body["refresh_token"].(string)
	if r.header != nil {
		a.retryAfter = r.header.Get("Retry-After")
	}
	l.rec.record(a, refresh, start.Add(a.took))
	return a
}

// finalCheck refreshes every chain once more, with the fault long healed:
// a chain alive answers 200. It returns how many are alive and, for each
// dead one, why.
func (l *load) finalCheck() (alive int, why []string) {
	for i, c := range l.chains {
		a := l.do(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.token}}, l.tn.app, true)
		if a.status == http.StatusOK {
			l.rec.rotated(c, a.refresh)
			alive++
			continue
		}
		why = append(why, fmt.Sprintf("chain %d (family %s, %d rotations acknowledged, died: %q): %s", i, c.family, c.acked, c.dead, a.describe()))
	}
	return alive, why
}
