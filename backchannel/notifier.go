// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0
// logout tokens: when a user's session ends, every client the user holds a
// grant with and that registered a backchannel_logout_uri is told, from a
// bounded queue, so no user request waits on a relying party.
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
	"authserver/tokens"
)

// Signer mints logout tokens (*grants.Issuer).
type Signer interface {
	MintLogoutToken(c *clients.Client, userID string, now time.Time, ttl time.Duration) (string, error)
}

// Clients finds a client's metadata (*clients.Registry).
type Clients interface {
	Lookup(ctx context.Context, id string) (*clients.Client, error)
}

// Families lists a user's live refresh families: the clients the user is
// signed in to (tokens.FamilyIndex).
type Families interface {
	ListUserFamilies(ctx context.Context, userID string) ([]tokens.Family, error)
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
	requestID             string
}

// Notifier queues and delivers logout tokens.
type Notifier struct {
	cfg      Config
	signer   Signer
	clients  Clients
	families Families
	log      *slog.Logger
	queue    chan delivery
	// ctx ends with Close, cutting short a POST or backoff in flight.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Notifier; Start runs its workers.
func New(cfg Config, s Signer, c Clients, f Families, log *slog.Logger) *Notifier {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{
		cfg: cfg, signer: s, clients: c, families: f, log: log,
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

// ClientsOf names the clients userID holds refresh families with, read
// before a revocation ends them.
func (n *Notifier) ClientsOf(ctx context.Context, userID string) ([]string, error) {
	fams, err := n.families.ListUserFamilies(ctx, userID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range fams {
		ids = appendNew(ids, f.ClientID)
	}
	return ids, nil
}

// SignedOut tells the user's clients that the session ended; clientIDs nil
// means every client the user holds families with now.
func (n *Notifier) SignedOut(ctx context.Context, userID string, clientIDs []string) {
	if clientIDs == nil {
		ids, err := n.ClientsOf(ctx, userID)
		if err != nil {
			n.log.WarnContext(ctx, "back-channel logout: list clients", "user_id", userID, "err", err)
			return
		}
		clientIDs = ids
	}
	for _, id := range clientIDs {
		c, err := n.clients.Lookup(ctx, id)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue // gone, disabled, or not listening
		}
		n.enqueue(ctx, delivery{client: c, clientID: id, uri: c.BackchannelLogoutURI, userID: userID, requestID: audit.RequestIDFrom(ctx)})
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
	tok, err := n.signer.MintLogoutToken(d.client, d.userID, time.Now(), n.cfg.TokenTTL)
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

func appendNew(ids []string, id string) []string {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}
