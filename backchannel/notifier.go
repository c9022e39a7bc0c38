// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0
// logout tokens: when a user's session ends, every client that session
// signed in to and that registered a backchannel_logout_uri is told (with
// the session's sid), and when every session of a user ends, every client
// the user signed in to or holds a grant with; from a bounded queue, so no
// user request waits on a relying party.
package backchannel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"authserver/audit"
	"authserver/clients"
	"authserver/fetcher"
	"authserver/sessions"
)

// Signer mints logout tokens (*grants.Issuer).
type Signer interface {
	MintLogoutToken(c *clients.Client, userID, sid string, now time.Time, ttl time.Duration) (string, error)
}

// Clients finds a client's metadata (*clients.Registry).
type Clients interface {
	Lookup(ctx context.Context, id string) (*clients.Client, error)
}

// Sessions lists which clients each of a user's sessions signed in to
// (sessions.Store).
type Sessions interface {
	SessionClients(ctx context.Context, userID string) ([]sessions.SessionClient, error)
	DeleteSessionClients(ctx context.Context, userID string, scs []sessions.SessionClient) error
}

// Config bounds delivery. Zero values take the defaults.
type Config struct {
	Workers   int           // default 2
	QueueSize int           // default 1024; a full queue drops, logged
	Attempts  int           // default 3
	Backoff   time.Duration // before the 2nd attempt, doubling; default 1s
	Timeout   time.Duration // per POST; default 5s
	TokenTTL  time.Duration // logout token lifetime; default 2m
	// Fetcher posts the tokens, refusing internal addresses; nil: one
	// with the fetcher defaults and Timeout.
	Fetcher *fetcher.Fetcher
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	set(&c.Backoff, time.Second)
	set(&c.Timeout, 5*time.Second)
	set(&c.TokenTTL, 2*time.Minute)
	if c.Fetcher == nil {
		// Only a bad CA file or host pattern fails New; none is given.
		c.Fetcher, _ = fetcher.New(fetcher.Config{Timeout: c.Timeout})
	}
}

// delivery is one logout token to post.
type delivery struct {
	client                *clients.Client
	clientID, uri, userID string
	sid                   string // "" for every session of the user
	requestID             string
}

// Notifier queues and delivers logout tokens.
type Notifier struct {
	cfg      Config
	signer   Signer
	clients  Clients
	sessions Sessions
	log      *slog.Logger
	queue    chan delivery
	// ctx ends with Close, cutting short a POST or backoff in flight.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Notifier; Start runs its workers.
func New(cfg Config, s Signer, c Clients, ss Sessions, log *slog.Logger) *Notifier {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{
		cfg: cfg, signer: s, clients: c, sessions: ss, log: log,
		queue: make(chan delivery, cfg.QueueSize), ctx: ctx, cancel: cancel,
	}
}

// Start runs the workers until Close.
func (n *Notifier) Start() {
	for range n.cfg.Workers {
		n.wg.Add(1)
		go n.work()
	}
}

// Close stops the workers; deliveries still queued are dropped.
func (n *Notifier) Close() {
	n.cancel()
	n.wg.Wait()
}

// SessionEnded tells the clients that session sid of userID signed in to
// that it ended, each with the sid its ID Tokens carried, and forgets them.
func (n *Notifier) SessionEnded(ctx context.Context, userID, sid string) {
	if sid == "" {
		return // a session from before sid: nothing was recorded
	}
	scs, err := n.sessions.SessionClients(ctx, userID)
	if err != nil {
		n.log.WarnContext(ctx, "back-channel logout: list the session's clients", "user_id", userID, "err", err)
		return
	}
	var ended []sessions.SessionClient
	for _, sc := range scs {
		if sc.SessionID == sid {
			n.tell(ctx, userID, sc.ClientID, sid)
			ended = append(ended, sc)
		}
	}
	n.forget(ctx, userID, ended)
}

// UserSignedOut tells that every session of userID ended (sign out
// everywhere, new password, disable, delete): each session's clients with
// its sid, and the clients that held refresh families without a session
// (familyClients; the password grant) with sub alone.
func (n *Notifier) UserSignedOut(ctx context.Context, userID string, familyClients []string) {
	scs, err := n.sessions.SessionClients(ctx, userID)
	if err != nil {
		n.log.WarnContext(ctx, "back-channel logout: list the user's session clients", "user_id", userID, "err", err)
	}
	told := map[string]bool{}
	for _, sc := range scs {
		n.tell(ctx, userID, sc.ClientID, sc.SessionID)
		told[sc.ClientID] = true
	}
	for _, id := range familyClients {
		if !told[id] {
			told[id] = true
			n.tell(ctx, userID, id, "")
		}
	}
	n.forget(ctx, userID, scs)
}

// tell queues one logout token for the client, if it listens.
func (n *Notifier) tell(ctx context.Context, userID, clientID, sid string) {
	c, err := n.clients.Lookup(ctx, clientID)
	if err != nil || c.BackchannelLogoutURI == "" {
		return // gone, disabled, or not listening
	}
	if sid == "" && c.BackchannelLogoutSessionRequired {
		return // it asked for a sid in every logout token, and there is none
	}
	n.enqueue(ctx, delivery{client: c, clientID: clientID, uri: c.BackchannelLogoutURI, userID: userID, sid: sid, requestID: audit.RequestIDFrom(ctx)})
}

// forget drops the records of ended sessions, exactly those told about,
// so a sign-in made meanwhile keeps its own; one left behind only costs a
// logout token the client ignores, and expires with its session.
func (n *Notifier) forget(ctx context.Context, userID string, told []sessions.SessionClient) {
	if err := n.sessions.DeleteSessionClients(ctx, userID, told); err != nil {
		n.log.WarnContext(ctx, "back-channel logout: forget the session's clients", "user_id", userID, "err", err)
	}
}

func (n *Notifier) enqueue(ctx context.Context, d delivery) {
	select {
	case n.queue <- d:
	default:
		n.log.WarnContext(ctx, "back-channel logout: queue full, dropped", "client_id", d.clientID, "user_id", d.userID)
	}
}

func (n *Notifier) work() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case d := <-n.queue:
			n.deliver(d)
		}
	}
}

// deliver posts d, retrying with backoff, and logs how it ended.
func (n *Notifier) deliver(d delivery) {
	log := n.log.With("client_id", d.clientID, "user_id", d.userID, "request_id", d.requestID)
	backoff := n.cfg.Backoff
	var err error
	for attempt := 1; attempt <= n.cfg.Attempts; attempt++ {
		if err = n.post(d); err == nil {
			log.Info("back-channel logout delivered", "attempt", attempt)
			return
		}
		if permanent(err) || attempt == n.cfg.Attempts {
			break
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	log.Warn("back-channel logout failed, given up", "err", err)
}

// post mints a fresh token (its iat and exp are per attempt) and sends it.
func (n *Notifier) post(d delivery) error {
	tok, err := n.signer.MintLogoutToken(d.client, d.userID, d.sid, time.Now(), n.cfg.TokenTTL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	// The fetcher's errors name neither the URL's path nor the form.
	resp, err := n.cfg.Fetcher.PostForm(ctx, d.uri, url.Values{"logout_token": {tok}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return nil
}

// permanent is a refusal that a retry would only repeat.
func permanent(err error) bool {
	return errors.Is(err, fetcher.ErrForbiddenAddress) || errors.Is(err, fetcher.ErrScheme) || errors.Is(err, fetcher.ErrHostNotAllowed)
}
