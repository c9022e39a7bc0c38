package reliability

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// maxSamples bounds how many anomalous answers are kept for the failure
// message; all are counted.
const maxSamples = 10

// recorder keeps what the load saw. Chains' tokens and counts change under
// its lock too, so a paused test can read them.
type recorder struct {
	mu         sync.Mutex
	byStatus   map[int]int // 0: no HTTP answer
	requests   int
	maxLatency time.Duration
	anomalies  int      // answers no fault excuses: see anomaly
	samples    []string // the first maxSamples of them
	dead       int      // chains ended by invalid_grant
	healedAt   time.Time
	recovered  time.Time // first refresh 200 completed after healedAt
}

// anomaly says what is wrong with a, or "" when a is an answer a client
// can live with during a fault: a 200, or a JSON 503
// temporarily_unavailable with Retry-After. A refresh's invalid_grant is
// counted as a dead chain instead; no answer at all is counted apart.
func anomaly(a answer, refresh bool) string {
	switch {
	case a.status == 0 || a.status == http.StatusOK:
		return ""
	case refresh && a.invalidGrant():
		return ""
	case a.status == http.StatusServiceUnavailable && (a.retryAfter == "" || a.errCode != "temporarily_unavailable" || !a.json):
		return "503 without Retry-After or JSON temporarily_unavailable: " + a.describe()
	case a.status == http.StatusServiceUnavailable:
		return ""
	case !a.json:
		return "error without a JSON body: " + a.describe()
	}
	return "unexpected answer: " + a.describe()
}

func (r *recorder) record(a answer, refresh bool, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.byStatus[a.status]++
	r.maxLatency = max(r.maxLatency, a.took)
	if what := anomaly(a, refresh); what != "" {
		r.anomalies++
		if len(r.samples) < maxSamples {
			r.samples = append(r.samples, what)
		}
	}
	if refresh && a.status == http.StatusOK && !r.healedAt.IsZero() && r.recovered.IsZero() && at.After(r.healedAt) {
		r.recovered = at
	}
}

// rotated takes the successor a 200 acknowledged.
func (r *recorder) rotated(c *chain, next string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if next == "" {
		r.anomalies++
		r.samples = append(r.samples, "200 without a refresh_token")
		return
	}
	c.token = next
	c.acked++
	c.okAt = time.Now()
}

func (r *recorder) died(c *chain, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.dead = why
	r.dead++
}

// healed marks the moment the fault ended; recovery is measured from it.
func (r *recorder) healed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.healedAt, r.recovered = time.Now(), time.Time{}
}

// recovery is the time from the last heal to the first refresh that
// succeeded after it, or -1 if none has yet.
func (r *recorder) recovery() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recovered.IsZero() {
		return -1
	}
	return r.recovered.Sub(r.healedAt)
}

// allRecovered reports whether every chain still alive has rotated since
// the last heal.
func (r *recorder) allRecovered(chains []*chain) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range chains {
		if c.dead == "" && !c.okAt.After(r.healedAt) {
			return false
		}
	}
	return true
}

// minAcked is the fewest rotations any chain has had acknowledged.
func (r *recorder) minAcked(chains []*chain) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	least := int64(-1)
	for _, c := range chains {
		if c.dead == "" && (least < 0 || c.acked < least) {
			least = c.acked
		}
	}
	return least
}

// firstAnomalies returns the anomalies kept for messages.
func (r *recorder) firstAnomalies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.samples...)
}

// summary is the byStatus counts as "200:n 503:m no-answer:k".
func (r *recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ""
	for _, code := range []int{200, 503, 400, 0} {
		if n := r.byStatus[code]; n > 0 {
			name := fmt.Sprint(code)
			if code == 0 {
				name = "no-answer"
			}
			s += fmt.Sprintf(" %s:%d", name, n)
		}
	}
	for code, n := range r.byStatus {
		if code != 200 && code != 503 && code != 400 && code != 0 {
			s += fmt.Sprintf(" %d:%d", code, n)
		}
	}
	return s
}
