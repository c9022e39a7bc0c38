package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// reqSpec is one HTTP request to send.
type reqSpec struct {
	method, url string
	body        []byte // sent as application/x-www-form-urlencoded when not nil
	auth        string // Authorization header; "" for none
}

// job produces a scenario's requests and judges its answers. Each worker
// has its own index, so per-worker state needs no locking.
type job interface {
	// next returns worker w's next request, or false when w has no more
	// work (codes used up, a refresh chain broken).
	next(w int) (reqSpec, bool)
	// answer judges one answer (status 0: the request failed in transport)
	// and keeps what the worker needs next, such as a rotated refresh token.
	answer(w int, status int, body []byte) error
}

type loadConfig struct {
	workers  int
	warmup   time.Duration // requests before the window are not counted
	duration time.Duration
	// maxRequests, when > 0, ends the run after that many requests.
	maxRequests int64
}

// loadResult is what one measured window saw.
type loadResult struct {
	requests  int64 // answers completed in the window, errors included
	errors    int64
	hist      histogram // latencies of the window's answers
	elapsed   time.Duration
	exhausted bool     // the job ran out of work before the window was over
	samples   []string // the first few distinct errors
	// Every answer, in the window or not (warm-up, in flight at its end):
	// an error anywhere fails the run, and so does a run with no success.
	allOK, allErrors int64
}

func (r *loadResult) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests-r.errors) / r.elapsed.Seconds()
}

// newHTTPClient keeps one keep-alive connection per worker and never
// follows redirects (the authorize flow reads them).
func newHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: 2 * conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStopped
)

// runLoad drives j with cfg.workers workers: a warm-up, then a measured
// window of cfg.duration (shorter when the job runs out of work). onStart
// and onEnd run at the window's edges, to sample the server.
func runLoad(ctx context.Context, client *http.Client, j job, cfg loadConfig, onStart, onEnd func()) loadResult {
	var (
		phase   atomic.Int32
		issued  atomic.Int64
		active  atomic.Int32
		allDone = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		res     loadResult
		seen    = map[string]bool{}
	)
	var start time.Time
	open := func() {
		if onStart != nil {
			onStart()
		}
		start = time.Now()
		phase.Store(phaseMeasure)
	}
	if cfg.warmup <= 0 {
		open() // every answer counts, the first one included
	}
	active.Store(int32(cfg.workers))
	for w := range cfg.workers {
		wg.Go(func() {
			defer func() {
				if active.Add(-1) == 0 {
					close(allDone)
				}
			}()
			var (
				h          histogram
				n, nerr    int64
				okAll, all int64
				buf        bytes.Buffer
				mySample   []string
			)
			defer func() {
				mu.Lock()
				res.hist.merge(&h)
				res.requests += n
				res.errors += nerr
				res.allOK += okAll
				res.allErrors += all - okAll
				for _, s := range mySample {
					if !seen[s] && len(res.samples) < 5 {
						seen[s] = true
						res.samples = append(res.samples, s)
					}
				}
				mu.Unlock()
			}()
			for phase.Load() != phaseStopped && ctx.Err() == nil {
				if cfg.maxRequests > 0 && issued.Add(1) > cfg.maxRequests {
					return
				}
				spec, ok := j.next(w)
				if !ok {
					return
				}
				start := time.Now()
				status, err := send(ctx, client, spec, &buf)
				lat := time.Since(start)
				if err == nil {
					err = j.answer(w, status, buf.Bytes())
				} else {
					_ = j.answer(w, 0, nil)
				}
				all++
				if err == nil {
					okAll++
				} else if len(mySample) < 5 {
					mySample = append(mySample, err.Error())
				}
				if phase.Load() != phaseMeasure {
					continue
				}
				n++
				h.record(lat)
				if err != nil {
					nerr++
				}
			}
		})
	}

	wait := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-allDone:
		case <-ctx.Done():
		}
	}
	if cfg.warmup > 0 {
		wait(cfg.warmup)
		open()
	}
	wait(cfg.duration)
	phase.Store(phaseStopped)
	res.elapsed = time.Since(start)
	select {
	case <-allDone:
		res.exhausted = cfg.maxRequests == 0
	default:
	}
	if onEnd != nil {
		onEnd()
	}
	wg.Wait()
	return res
}

// send performs one request and reads the whole answer into buf.
func send(ctx context.Context, client *http.Client, spec reqSpec, buf *bytes.Buffer) (int, error) {
	var body io.Reader
	if spec.body != nil {
		body = bytes.NewReader(spec.body)
	}
	req, err := http.NewRequestWithContext(ctx, spec.method, spec.url, body)
	if err != nil {
		return 0, err
	}
	if spec.body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if spec.auth != "" {
		req.Header.Set("Authorization", spec.auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

// statusError is a non-200 answer, with the start of its body.
func statusError(status int, body []byte) error {
	if status == 0 {
		return fmt.Errorf("transport error")
	}
	b := body
	if len(b) > 160 {
		b = b[:160]
	}
	return fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(b))
}
