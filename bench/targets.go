package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store names as the table shows them.
const (
	storeEmbedded = "embedded"
	storeRedis    = "redis"
	storeCluster  = "cluster" // a 3-master Redis Cluster
	storeMemory   = "memory"  // the baseline's in-memory token store
)

// redirectURI is the bench client's registered redirect URI. Nothing
// listens there: the code is read from the redirect itself.
const redirectURI = "http://127.0.0.1/cb"

// target is one server under test.
type target struct {
	name  string // as the progress lines show it
	store string
	peer  string // the peer's name (PeerGoOAuth2, ...); "" for ours
	// version names the peer's software, for the report's header.
	version string

	// unsupported names the scenarios the server cannot serve, and why.
	unsupported map[string]string
	// introspectMint is added to the client_credentials requests that mint
	// the tokens the introspection scenario checks; introspectNote says
	// why, for the report.
	introspectMint url.Values
	introspectNote string
	// interactive: the authorization endpoint sends the browser through
	// interaction pages (cookies, redirects) before the code.
	interactive bool
	// refreshFromCodes: refresh-token families start with a code exchange,
	// not a password grant.
	refreshFromCodes bool

	tokenURL, introspectURL, jwksURL, authorizeURL string

	clientID, secret   string
	username, password string
	basic              string // the client's Authorization header

	proc  *child       // nil for a server the benchmark did not start
	pid   int          // 0 when unknown: no CPU or RSS figures
	redis *redisDeploy // the Redis this target uses, if the benchmark started it
	prof  *profiler    // nil unless profiling
	ctl   string       // profserver's control address

	http *http.Client
	// signIn is the browser session that mints codes (ours only).
	signIn *http.Client
	// codeRate is the authorization_code exchange rate seen so far (in the
	// pilot, then in measured runs), used to mint enough codes for a run.
	codeRate         float64
	codeRateMeasured bool
}

// stop ends what the benchmark started for the target.
func (t *target) stop() {
	if t.proc != nil {
		t.proc.stop(10 * time.Second)
	}
	if t.redis != nil {
		t.redis.stop()
	}
}

// serverSpec says how to start our server.
type serverSpec struct {
	bin  string
	args []string
	cpu  int
	alg  string
	dir  string    // working and data directory
	prof *profiler // run as profserver instead
}

// startOurs starts our server on the given store, discovers its endpoints
// from the metadata document and provisions the bench client and user
// through the admin API.
func startOurs(ctx context.Context, spec serverSpec, storeKind string, redis *redisDeploy, conns int) (*target, error) {
	pub, err1 := freePort()
	adm, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spec.dir, 0o700); err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(pub)
	adminURL := "http://127.0.0.1:" + strconv.Itoa(adm)
	adminToken := randomString(32)
	env := append(cleanEnv(),
		"GOMAXPROCS=1",
		"AUTHSERVER_ISSUER="+base,
		"AUTHSERVER_LISTEN=127.0.0.1:"+strconv.Itoa(pub),
		"AUTHSERVER_ADMIN_LISTEN=127.0.0.1:"+strconv.Itoa(adm),
		"AUTHSERVER_DATA_DIR="+filepath.Join(spec.dir, "data"),
		"AUTHSERVER_ADMIN_TOKEN="+adminToken,
		"AUTHSERVER_KEY_ENCRYPTION_SECRET="+randomString(32),
		"AUTHSERVER_SIGNING_ALG="+spec.alg,
		// Codes are minted ahead of the measured window; the default 60 s
		// would expire them mid-run. 10m is the most the config allows
		// (RFC 6749 §4.1.2), so a window is at most a few minutes.
		"AUTHSERVER_TOKENS_CODE_TTL=10m",
		// Every load connection comes from one address, which the
		// per-address bound on queued password checks exists to stop; it
		// is measured by its own tests (app.TestPasswordChecksInFlightPerIP).
		"AUTHSERVER_LIMITS_PASSWORD_CHECKS_IN_FLIGHT_PER_IP=1024",
		// Likewise every password attempt is one user's from one address,
		// and 32 at once hold 32 of that (user, address) counter's slots
		// while they hash.
		"AUTHSERVER_LIMITS_PASSWORD_FAILURES_PER_USER=1024",
		// No load balancer to tell: stop at once between scenarios.
		"AUTHSERVER_SHUTDOWN_DRAIN_DELAY=0s",
	)
	if redis != nil {
		env = append(env, redis.env()...)
	}
	bin, args, ctl := spec.bin, spec.args, ""
	if spec.prof != nil {
		var err error
		if ctl, err = freeAddr(); err != nil {
			return nil, err
		}
		bin, args = spec.prof.bin, spec.prof.args(ctl)
	}
	p, err := startChild("ours-"+storeKind, spec.dir, spec.cpu, bin, args, env)
	if err != nil {
		return nil, err
	}
	t := &target{name: "ours/" + storeKind, store: storeKind, proc: p, pid: p.pid(), redis: redis,
		prof: spec.prof, ctl: ctl, http: newHTTPClient(conns)}
	err = p.waitReady(ctx, 60*time.Second, func() error {
		status, _, err := get(ctx, t.http, base+"/healthz")
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("/healthz answered %d", status)
		}
		return err
	})
	if err == nil {
		err = t.discover(ctx, base+"/.well-known/oauth-authorization-server")
	}
	if err == nil {
		err = t.provision(ctx, adminURL, adminToken)
	}
	if err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// external is a server someone else runs: the benchmark provisions it
// through its admin API and measures CPU and RSS only when given its pid.
func external(ctx context.Context, base, adminURL, adminToken string, pid, conns int) (*target, error) {
	t := &target{name: "ours/external", store: "external", pid: pid, http: newHTTPClient(conns)}
	if err := t.discover(ctx, strings.TrimRight(base, "/")+"/.well-known/oauth-authorization-server"); err != nil {
		return nil, err
	}
	if err := t.provision(ctx, strings.TrimRight(adminURL, "/"), adminToken); err != nil {
		return nil, err
	}
	return t, nil
}

// discover reads the endpoints from the metadata document at u (RFC 8414
// or OpenID Connect Discovery), so a server that adds introspection is
// measured on it without a change here.
func (t *target) discover(ctx context.Context, u string) error {
	status, body, err := get(ctx, t.http, u)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("metadata: %w", statusError(status, body))
	}
	var md struct {
		Token      string `json:"token_endpoint"`
		Introspect string `json:"introspection_endpoint"`
		JWKS       string `json:"jwks_uri"`
		Authorize  string `json:"authorization_endpoint"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if md.Token == "" {
		return errors.New("metadata names no token_endpoint")
	}
	t.tokenURL, t.introspectURL, t.jwksURL, t.authorizeURL = md.Token, md.Introspect, md.JWKS, md.Authorize
	return nil
}

// provision creates the bench client (every grant, first party so the
// authorize flow skips consent) and the bench user.
func (t *target) provision(ctx context.Context, adminURL, adminToken string) error {
	var cl struct {
		ID     string `json:"id"`
		Secret string `json:"client_secret"`
	}
	err := adminCall(ctx, t.http, adminURL+"/admin/clients", adminToken, map[string]any{
		"name":          "bench",
		"grant_types":   []string{"client_credentials", "password", "refresh_token", "authorization_code"},
		"scopes":        []string{"profile"},
		"redirect_uris": []string{redirectURI},
		"first_party":   true,
	}, &cl)
	if err != nil {
		return fmt.Errorf("create the bench client: %w", err)
	}
	t.username, t.password = "bench-"+randomString(6), randomString(24)
	err = adminCall(ctx, t.http, adminURL+"/admin/users", adminToken, map[string]any{
		"username": t.username, "password": t.password,
	}, nil)
	if err != nil {
		return fmt.Errorf("create the bench user: %w", err)
	}
	t.setClient(cl.ID, cl.Secret)
	return nil
}

func (t *target) setClient(id, secret string) {
	t.clientID, t.secret = id, secret
	// RFC 6749 §2.3.1: Basic values are form-url-encoded first.
	t.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// startBaseline starts the go-oauth2 server with a client and user of its
// own.
func startBaseline(ctx context.Context, bin, dir string, cpu int, alg string, conns int) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	t := &target{name: PeerGoOAuth2, store: storeMemory, peer: PeerGoOAuth2, http: newHTTPClient(conns),
		tokenURL: base + "/token", introspectURL: base + "/introspect", authorizeURL: base + "/authorize"}
	t.username, t.password = "bench", randomString(24)
	t.setClient("bench-"+randomString(8), randomString(32))
	args := []string{
		"--listen", "127.0.0.1:" + strconv.Itoa(port), "--alg", alg,
		"--client-id", t.clientID, "--client-secret", t.secret, "--domain", "http://127.0.0.1",
		"--username", t.username, "--password", t.password,
	}
	p, err := startChild("baseline", dir, cpu, bin, args, append(cleanEnv(), "GOMAXPROCS=1"))
	if err != nil {
		return nil, err
	}
	t.proc, t.pid = p, p.pid()
	err = p.waitReady(ctx, 30*time.Second, func() error {
		_, _, err := get(ctx, t.http, base+"/")
		return err
	})
	if err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// codePair is an authorization code and the PKCE verifier it was asked
// with.
type codePair struct{ code, verifier string }

// mintCodes drives the authorization endpoint over HTTP for n codes,
// concurrently. Our server needs a signed-in browser session (made once,
// through the sign-in form); the bench client is first party, so no
// consent page comes between the session and the code.
func (t *target) mintCodes(ctx context.Context, n, workers int) ([]codePair, error) {
	if t.authorizeURL == "" {
		return nil, errors.New("the server has no authorization endpoint")
	}
	client := t.http
	out := make([]codePair, n)
	next := 0
	switch {
	case t.peer == "":
		if t.signIn == nil {
			if err := t.startSession(ctx); err != nil {
				return nil, fmt.Errorf("sign in: %w", err)
			}
		}
		client = t.signIn
	case t.interactive:
		// The first code alone: its interaction signs the user in and
		// stores the grant; the codes after it reuse that session.
		if t.signIn == nil {
			jar, err := cookiejar.New(nil)
			if err != nil {
				return nil, err
			}
			c := newHTTPClient(64)
			c.Jar = jar
			verifier := randomString(32)
			code, err := t.authorizeOnce(ctx, c, s256(verifier))
			if err != nil {
				return nil, fmt.Errorf("sign in through the interaction: %w", err)
			}
			t.signIn = c
			if n > 0 {
				out[0] = codePair{code: code, verifier: verifier}
				next = 1
			}
		}
		client = t.signIn
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || firstErr != nil
				mu.Unlock()
				if stop || ctx.Err() != nil {
					return
				}
				verifier := randomString(32)
				code, err := t.authorizeOnce(ctx, client, s256(verifier))
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				out[i] = codePair{code: code, verifier: verifier}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

func cmpErr(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

func (t *target) authorizeQuery(challenge string) string {
	return url.Values{
		"response_type": {"code"}, "client_id": {t.clientID}, "redirect_uri": {redirectURI},
		"scope": {"profile"}, "state": {randomString(8)},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode()
}

// authorizeOnce asks for one code and reads it from the redirect.
func (t *target) authorizeOnce(ctx context.Context, client *http.Client, challenge string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.authorizeURL+"?"+t.authorizeQuery(challenge), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode/100 != 3 {
		return "", fmt.Errorf("authorize: %w", statusError(resp.StatusCode, body))
	}
	// A server with interaction pages (oidc-provider) sends the browser
	// through them first: follow its redirects, within bounds, until one
	// goes to the client.
	for hops := 0; t.interactive && !strings.HasPrefix(loc.String(), redirectURI); hops++ {
		if hops == 8 || loc.Scheme != "http" || loc.Hostname() != "127.0.0.1" {
			return "", fmt.Errorf("authorize: redirected to %s", loc)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if loc, err = resp.Location(); err != nil || resp.StatusCode/100 != 3 {
			return "", fmt.Errorf("authorize, at %s: %w", req.URL.Path, statusError(resp.StatusCode, body))
		}
	}
	code := loc.Query().Get("code")
	if code == "" {
		return "", fmt.Errorf("authorize redirected without a code: %s", loc.Query().Get("error"))
	}
	return code, nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// startSession signs the bench user in through the sign-in form, the way a
// browser does: the form's CSRF token and cookie, then the post.
func (t *target) startSession(ctx context.Context) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	c := newHTTPClient(64)
	c.Jar = jar
	q := t.authorizeQuery(s256(randomString(32)))
	status, page, err := get(ctx, c, t.authorizeURL+"?"+q)
	if err != nil {
		return err
	}
	m := csrfField.FindSubmatch(page)
	if status != http.StatusOK || m == nil {
		return fmt.Errorf("no sign-in form: %w", statusError(status, page))
	}
	form := url.Values{"csrf": {string(m[1])}, "username": {t.username}, "password": {t.password}}
	loginURL := strings.TrimSuffix(t.authorizeURL, "/authorize") + "/authorize/login?" + q
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("sign-in form: %w", statusError(resp.StatusCode, body))
	}
	t.signIn = c
	return nil
}

// get fetches url and returns the status and body.
func get(ctx context.Context, c *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// adminCall posts a JSON body to the admin API and decodes the answer
// into out (when not nil).
func adminCall(ctx context.Context, c *http.Client, u, token string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return statusError(resp.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// tokenRequest sends one token request outside any measurement (set-up).
func (t *target) tokenRequest(ctx context.Context, form url.Values) (map[string]any, error) {
	var buf bytes.Buffer
	status, err := send(ctx, t.http, reqSpec{method: http.MethodPost, url: t.tokenURL, body: []byte(form.Encode()), auth: t.basic}, &buf)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, statusError(status, buf.Bytes())
	}
	out := map[string]any{}
	return out, json.Unmarshal(buf.Bytes(), &out)
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
