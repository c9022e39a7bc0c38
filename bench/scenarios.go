package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// Scenario names, in the order the table lists them.
const (
	ClientCredentials = "client_credentials"
	Password          = "password"
	RefreshToken      = "refresh_token"
	AuthorizationCode = "authorization_code"
	Introspection     = "introspection"
	JWKS              = "jwks"
)

// AllScenarios is every scenario, in table order.
var AllScenarios = []string{ClientCredentials, Password, RefreshToken, AuthorizationCode, Introspection, JWKS}

// unsupported says a target has no endpoint for a scenario; the table
// shows "n/a" and the run does not fail.
type unsupported struct{ why string }

func (u *unsupported) Error() string { return u.why }

// setupParams sizes a job.
type setupParams struct {
	workers int
	// codes is how many authorization codes to mint.
	codes int
}

// setupJob prepares one run of a scenario on t.
func setupJob(ctx context.Context, name string, t *target, p setupParams) (job, error) {
	if why, ok := t.unsupported[name]; ok {
		return nil, &unsupported{why}
	}
	switch name {
	case ClientCredentials:
		return fixedJob(reqSpec{method: http.MethodPost, url: t.tokenURL, auth: t.basic,
			body: []byte("grant_type=client_credentials")}, []byte(`"access_token"`)), nil
	case Password:
		form := url.Values{"grant_type": {"password"}, "username": {t.username}, "password": {t.password}}
		return fixedJob(reqSpec{method: http.MethodPost, url: t.tokenURL, auth: t.basic,
			body: []byte(form.Encode())}, []byte(`"refresh_token"`)), nil
	case RefreshToken:
		return newRefreshJob(ctx, t, p.workers)
	case AuthorizationCode:
		codes, err := t.mintCodes(ctx, p.codes, p.workers)
		if err != nil {
			return nil, fmt.Errorf("mint authorization codes: %w", err)
		}
		return &codeJob{t: t, codes: codes}, nil
	case Introspection:
		if t.introspectURL == "" {
			return nil, &unsupported{"the server publishes no introspection_endpoint"}
		}
		return newIntrospectJob(ctx, t, p.workers)
	case JWKS:
		if t.jwksURL == "" {
			return nil, &unsupported{"the server publishes no jwks_uri"}
		}
		return fixedJob(reqSpec{method: http.MethodGet, url: t.jwksURL}, []byte(`"keys"`)), nil
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// fixedJob sends the same pre-encoded request again and again and wants a
// 200 whose body contains want.
func fixedJob(spec reqSpec, want []byte) job { return &sameJob{spec: spec, want: want} }

type sameJob struct {
	spec reqSpec
	want []byte
}

func (j *sameJob) next(int) (reqSpec, bool) { return j.spec, true }

func (j *sameJob) answer(_ int, status int, body []byte) error {
	if status != http.StatusOK {
		return statusError(status, body)
	}
	if !bytes.Contains(body, j.want) {
		return fmt.Errorf("answer lacks %s: %.120s", j.want, body)
	}
	return nil
}

// refreshJob gives each worker a refresh-token family of its own (one
// password grant each, before the clock) and always presents the newest
// token of it, as a well-behaved client does.
type refreshJob struct {
	t      *target
	tokens []string // per worker; "" once its chain is broken
}

func newRefreshJob(ctx context.Context, t *target, workers int) (job, error) {
	j := &refreshJob{t: t, tokens: make([]string, workers)}
	if t.refreshFromCodes {
		codes, err := t.mintCodes(ctx, workers, workers)
		if err != nil {
			return nil, fmt.Errorf("start refresh families: mint codes: %w", err)
		}
		for w, c := range codes {
			resp, err := t.tokenRequest(ctx, url.Values{
				"grant_type": {"authorization_code"}, "code": {c.code},
				"redirect_uri": {redirectURI}, "code_verifier": {c.verifier},
			})
			rt, _ := resp["refresh_token"].(string)
			if err == nil && rt == "" {
				err = errors.New("the code exchange gave no refresh token")
			}
			if err != nil {
				return nil, fmt.Errorf("start refresh families: %w", err)
			}
			j.tokens[w] = rt
		}
		return j, nil
	}
	form := url.Values{"grant_type": {"password"}, "username": {t.username}, "password": {t.password}}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	// One password grant at a time: each holds an argon2id buffer
	// (19 MiB by default), and 32 at once would leave the server's heap
	// inflated for the window that follows.
	sem := make(chan struct{}, 1)
	for w := range workers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			resp, err := t.tokenRequest(ctx, form)
			rt, _ := resp["refresh_token"].(string)
			if err == nil && rt == "" {
				err = errors.New("the password grant gave no refresh token")
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			j.tokens[w] = rt
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("start refresh families: %w", errs[0])
	}
	return j, nil
}

func (j *refreshJob) next(w int) (reqSpec, bool) {
	if j.tokens[w] == "" {
		return reqSpec{}, false
	}
	body := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(j.tokens[w])
	return reqSpec{method: http.MethodPost, url: j.t.tokenURL, auth: j.t.basic, body: []byte(body)}, true
}

func (j *refreshJob) answer(w int, status int, body []byte) error {
	// Any failure leaves the worker without a token it can trust: a retry
	// of a consumed one would be reuse and revoke the family.
	j.tokens[w] = ""
	if status != http.StatusOK {
		return statusError(status, body)
	}
	var resp struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Refresh == "" {
		return fmt.Errorf("refresh answer without a refresh_token: %.120s", body)
	}
	j.tokens[w] = resp.Refresh
	return nil
}

// codeJob redeems codes minted before the clock, each once.
type codeJob struct {
	t     *target
	codes []codePair
	taken atomic.Int64
}

func (j *codeJob) next(int) (reqSpec, bool) {
	i := j.taken.Add(1) - 1
	if i >= int64(len(j.codes)) {
		return reqSpec{}, false
	}
	c := j.codes[i]
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {c.code},
		"redirect_uri": {redirectURI}, "code_verifier": {c.verifier},
	}
	return reqSpec{method: http.MethodPost, url: j.t.tokenURL, auth: j.t.basic, body: []byte(form.Encode())}, true
}

func (j *codeJob) answer(_ int, status int, body []byte) error {
	if status != http.StatusOK {
		return statusError(status, body)
	}
	if !bytes.Contains(body, []byte(`"access_token"`)) {
		return fmt.Errorf("answer lacks an access_token: %.120s", body)
	}
	return nil
}

// introspectJob checks access tokens minted before the clock; each worker
// cycles through tokens of its own, so no two requests in a row carry the
// same one.
type introspectJob struct {
	t      *target
	bodies [][]byte // per token
	per    int      // tokens per worker
	pos    []int
}

const tokensPerWorker = 4

func newIntrospectJob(ctx context.Context, t *target, workers int) (job, error) {
	j := &introspectJob{t: t, per: tokensPerWorker, pos: make([]int, workers)}
	for range workers * tokensPerWorker {
		mint := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range t.introspectMint {
			mint[k] = v
		}
		resp, err := t.tokenRequest(ctx, mint)
		if err != nil {
			return nil, fmt.Errorf("mint access tokens to introspect: %w", err)
		}
		at, _ := resp["access_token"].(string)
		form := url.Values{"token": {at}, "token_type_hint": {"access_token"}}
		j.bodies = append(j.bodies, []byte(form.Encode()))
	}
	// One probe before the clock: a server whose endpoint refuses the bench
	// client fails here with its own words, not as a window of errors.
	var buf bytes.Buffer
	status, err := send(ctx, t.http, reqSpec{method: http.MethodPost, url: t.introspectURL, auth: t.basic, body: j.bodies[0]}, &buf)
	if err == nil {
		err = j.answer(0, status, buf.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("introspection probe: %w", err)
	}
	return j, nil
}

func (j *introspectJob) next(w int) (reqSpec, bool) {
	i := w*j.per + j.pos[w]
	j.pos[w] = (j.pos[w] + 1) % j.per
	return reqSpec{method: http.MethodPost, url: j.t.introspectURL, auth: j.t.basic, body: j.bodies[i]}, true
}

func (j *introspectJob) answer(_ int, status int, body []byte) error {
	if status != http.StatusOK {
		return statusError(status, body)
	}
	var resp struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || !resp.Active {
		return fmt.Errorf("token not active: %.120s", body)
	}
	return nil
}
