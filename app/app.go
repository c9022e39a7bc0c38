// Package app builds a running authorization server from a Config: it opens
// the store, loads the keys, constructs every service with concrete
// constructors, and serves the public and admin listeners.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"authserver/audit"
	"authserver/backchannel"
	"authserver/cache"
	"authserver/clients"
	"authserver/config"
	"authserver/dpop"
	"authserver/fetcher"
	"authserver/grants"
	"authserver/health"
	"authserver/keys"
	"authserver/metrics"
	"authserver/ratelimit"
	"authserver/registration"
	"authserver/resources"
	"authserver/server"
	"authserver/server/admin"
	"authserver/store"
	"authserver/store/embedded"
	redisstore "authserver/store/redis"
	"authserver/subjects"
	"authserver/tokens"
	"authserver/users"
)

// App is one server node.
type App struct {
	Config     *config.Config
	Store      store.Backend
	Keys       *keys.Set
	Clients    *clients.Registry
	Users      *users.Service
	Issuer     *grants.Issuer
	Public     http.Handler
	Admin      http.Handler
	AdminToken string
	Log        *slog.Logger
	// Health answers /healthz and /readyz on both listeners.
	Health *health.Checker

	// Metrics is this node's registry, served at /metrics on the admin
	// listener; one per App, so nodes in one process do not share counters.
	Metrics *metrics.Metrics

	// Registration is dynamic client registration (RFC 7591, 7592).
	Registration *registration.Service

	// Resources are the RFC 8707 protected resources, cached like clients.
	Resources *resources.Registry

	// Fetcher is the one client for URLs clients give (config fetch):
	// back-channel logout and any document fetched from a client's URL.
	Fetcher *fetcher.Fetcher

	// clientCache and userStates keep client and user records in memory;
	// stopCache ends their subscriptions to change announcements.
	clientCache *clients.CachedStore
	userStates  *cache.Cache[users.User]
	// keyChanges announces signing-key changes to every node (nil on the
	// embedded store: one node).
	keyChanges cache.Changes
	stopCache  context.CancelFunc
	cacheDone  sync.WaitGroup

	// logouts delivers back-channel logout tokens.
	logouts *backchannel.Notifier

	// backup copies the store for GET /admin/backup; nil on Redis.
	backup admin.Backuper
}

// cacheTTL bounds how long a node may serve a client or user record if a
// change announcement is lost; announcements normally arrive at once.
const cacheTTL = 30 * time.Second

// New builds a node from cfg. Close releases what it opened.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Once, here, so every package that logs with a request's context
	// writes the request's id.
	b := BuildInfo()
	m := metrics.New(b.Version, b.GoVersion)
	log = slog.New(m.AuditHandler(audit.LogHandler(log.Handler())))
	a := &App{Config: cfg, Log: log, Metrics: m}
	st, changes, backup, err := openStore(ctx, cfg, log, m)
	if err != nil {
		return nil, err
	}
	a.Store, a.backup = st, backup
	a.keyChanges = changes("keys")
	a.clientCache = clients.NewCachedStore(st, changes("client"), cacheTTL, log)
	a.userStates = cache.New[users.User]("user", changes("user"), cacheTTL, log)
	a.Resources = resources.NewRegistry(st, changes("resource"), cacheTTL, log)
	cacheCtx, stop := context.WithCancel(context.Background())
	a.stopCache = stop
	for kind, run := range map[string]func(context.Context) error{"client": a.clientCache.Run, "user": a.userStates.Run, "resource": a.Resources.Run} {
		a.cacheDone.Go(func() {
			if err := run(cacheCtx); err != nil {
				log.Error(kind+" cache: change announcements stopped", "err", err)
			}
		})
	}
	if err := a.build(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.followKeyChanges(cacheCtx)
	return a, nil
}

// followKeyChanges reloads the key set whenever another node announces a
// change, and whenever announcements may have been missed, so a key
// rotated anywhere verifies here at once.
func (a *App) followKeyChanges(ctx context.Context) {
	if a.keyChanges == nil {
		return
	}
	reload := func() {
		if err := a.Keys.Reload(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("reload signing keys after a change announcement", "err", err)
		}
	}
	a.cacheDone.Go(func() {
		if err := a.keyChanges.SubscribeChanges(ctx, func(string) { reload() }, reload); err != nil {
			a.Log.Error("signing keys: change announcements stopped", "err", err)
		}
	})
}

// keyRetireMargin is added to the access-token TTL before a superseded key
// leaves JWKS: a node that missed the announcement signs with the old key
// for up to one reload interval more, and clocks disagree by a little.
const keyRetireMargin = config.KeyReloadInterval + time.Minute

// openStore opens the configured backend and, for a shared one, the feeds
// of changes (one per kind of record) that keep every node's caches fresh.
// The embedded store serves one node, which needs no feed, and is the one
// the admin API can back up (Redis has its own persistence).
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (store.Backend, func(kind string) cache.Changes, admin.Backuper, error) {
	if cfg.StoreKind() == config.StoreEmbedded {
		st, err := embedded.Open(filepath.Join(cfg.DataDir, "authserver.db"))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open embedded store in %s: %w", cfg.DataDir, err)
		}
		st.Observe(m.EmbeddedObserver())
		return st, func(string) cache.Changes { return nil }, st, nil
	}
	redisstore.SetLogger(log)
	r := cfg.Redis
	client, err := redisstore.Connect(ctx, redisstore.Options{
		URL: r.URL, Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
		Username: r.Username, Password: r.Password, DB: r.DB, PoolSize: r.PoolSize, KeyPrefix: r.KeyPrefix,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connect to redis (%s): %w", cfg.StoreKind(), err)
	}
	client.AddHook(m.RedisHook()) // before New's outage hook: see RedisHook
	rs := redisstore.New(client, r.KeyPrefix)
	rs.WaitForReplicas(r.WaitReplicas, r.WaitTimeout)
	return rs, func(kind string) cache.Changes { return rs.Changes(kind) }, nil, nil
}

func (a *App) build(ctx context.Context) error {
	cfg := a.Config
	secret := []byte(cfg.KeyEncryptionSecret)
	if len(secret) == 0 {
		s, created, err := keys.LoadOrCreateSecret(cfg.DataDir)
		if err != nil {
			return err
		}
		if created {
			a.Log.Warn("generated a key encryption secret; nodes sharing this store need the same key_encryption_secret",
				"path", filepath.Join(cfg.DataDir, "key-encryption.secret"))
		}
		secret = s
	}
	// One key per ID Token algorithm beside the access-token key; a key
	// may sign either kind, so it lives as long as the longer of the two
	// (an id_token_ttl of 0 is the access TTL, which max leaves as is).
	km, err := keys.NewSet(a.Store, secret, cfg.Signing.Alg, clients.IDTokenAlgs, keys.Settings{
		PublishAhead:  cfg.Signing.PublishAhead,
		TokenLifetime: max(cfg.Tokens.AccessTTL, cfg.Tokens.IDTokenTTL),
		RetireMargin:  keyRetireMargin,
		RotateEvery:   cfg.Signing.RotateEvery,
		Changes:       a.keyChanges,
		Log:           a.Log,
	})
	if err != nil {
		return err
	}
	if err := km.Init(ctx); err != nil {
		return err
	}
	a.Keys = km
	a.Metrics.SigningKeyAge(km.SigningKeyCreated)

	a.AdminToken = cfg.AdminToken
	if a.AdminToken == "" {
		tok, created, err := admin.LoadOrCreateToken(cfg.DataDir)
		if err != nil {
			return err
		}
		if created {
			a.Log.Warn("generated an admin token", "path", filepath.Join(cfg.DataDir, "admin.token"))
		}
		a.AdminToken = tok
	}

	a.Clients = clients.NewRegistry(a.clientCache, cfg.Scopes)
	// Users are cached for the state checks on every session, code and
	// refresh token (Current); writes invalidate on every node.
	a.Users = users.NewService(a.Store, users.Hasher{Time: cfg.PasswordHash.Time, MemoryKiB: cfg.PasswordHash.MemoryKiB, Threads: cfg.PasswordHash.Threads}).Cached(a.userStates)
	a.Issuer = grants.NewIssuer(cfg.Issuer, []string{cfg.Tokens.Audience}, km)
	window := cfg.Limits.Window
	revoker := tokens.NewRevoker(a.Store, a.Users, a.Clients, cfg.Tokens.CodeTTL, cfg.Tokens.AccessTTL, a.Log)
	a.Fetcher, err = fetcher.New(fetcher.Config{
		Timeout: cfg.Fetch.Timeout, MaxBytes: cfg.Fetch.MaxBytes, AllowHosts: cfg.Fetch.AllowHosts, DenyHosts: cfg.Fetch.DenyHosts,
		AllowLoopback: cfg.Fetch.AllowLoopback, RootCAFile: cfg.Fetch.CAFile,
	})
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	a.Clients.CheckSectorsWith(sectorDocuments{fetcher.NewCache(a.Fetcher, fetcher.CacheConfig{MaxEntries: 256, MinTTL: time.Minute, MaxTTL: time.Hour})})
	a.useClientIDMetadata()
	a.logouts = backchannel.New(backchannel.Config{Fetcher: a.Fetcher}, a.Issuer, a.Clients, a.Store, a.Log)
	a.logouts.Start()
	revoker.OnUserRevoked(a.logouts.UserSignedOut)
	// One limiter for the token endpoint and the sign-in page, so the
	// in-flight bound per address holds across both.
	limiter := ratelimit.New(a.Store)
	passwordLimits := ratelimit.PasswordLimits{
		PerUser:           ratelimit.Policy{Max: int64(cfg.Limits.PasswordFailuresPerUser), Window: window},
		PerUserUntrusted:  ratelimit.Policy{Max: int64(cfg.Limits.PasswordFailuresPerUserUntrusted), Window: window},
		PerIP:             ratelimit.Policy{Max: int64(cfg.Limits.LoginFailuresPerIP), Window: window},
		PerClient:         ratelimit.Policy{Max: int64(cfg.Limits.PasswordFailuresPerClient), Window: window},
		InFlightPerSource: cfg.Limits.PasswordChecksInFlightPerIP,
	}
	// Its own key, not the secret itself: a device cookie's MAC must not
	// be usable for anything the secret protects.
	deviceKey, err := hkdf.Key(sha256.New, secret, nil, "authserver device cookie v1", 32)
	if err != nil {
		return err
	}
	chain, err := tokens.NewChain(secret)
	if err != nil {
		return err
	}
	// Pairwise subjects (OpenID Connect Core §8) under their own key too.
	pairwise, err := subjects.New(secret)
	if err != nil {
		return err
	}
	a.Issuer.SetSubjects(pairwise)
	proofs, err := newDPoPVerifier(cfg, secret, a.Store)
	if err != nil {
		return err
	}
	token := grants.NewEndpoint(grants.Config{
		AccessTTL:               cfg.Tokens.AccessTTL,
		RefreshIdleTTL:          cfg.Tokens.RefreshIdleTTL,
		RefreshAbsoluteTTL:      cfg.Tokens.RefreshAbsoluteTTL,
		RefreshGrace:            cfg.Tokens.RefreshReuseGrace,
		CodeTTL:                 cfg.Tokens.CodeTTL,
		IDTokenTTL:              cfg.Tokens.IDTokenTTL,
		RequirePKCEConfidential: cfg.PKCE.RequireForConfidential,
		OfflineAccessForRefresh: !cfg.Tokens.RefreshWithoutOfflineAccess,
		MaxBodyBytes:            cfg.Limits.MaxBodyBytes,
		PasswordLimits:          passwordLimits,
		ClientAuthLimit:         ratelimit.Policy{Max: int64(cfg.Limits.ClientAuthFailures), Window: window},
	}, grants.Deps{
		Clients: a.Clients, Users: a.Users, Families: a.Store, Codes: a.Store, Deny: a.Store,
		Revoker: revoker, Limiter: limiter, Issuer: a.Issuer, Chain: chain, Audit: a.Log, Issued: a.Metrics.TokenIssued,
		Resources: a.Resources,
		// private_key_jwt: one-time jtis, and client jwks_uri sets fetched
		// through the node's fetcher, cached apart from other documents.
		Replay: a.Store, ClientKeys: fetcher.NewCache(a.Fetcher, fetcher.CacheConfig{MaxEntries: 1024, MinTTL: time.Minute, MaxTTL: time.Hour}),
		DPoP: proofs,
	})
	authorize := server.NewAuthorize(server.AuthorizeConfig{
		Issuer:          cfg.Issuer,
		SessionTTL:      cfg.Sessions.TTL,
		PasswordLimits:  passwordLimits,
		DeviceCookieKey: deviceKey,
		DeviceCookieTTL: cfg.Sessions.DeviceCookieTTL,
	}, server.AuthorizeDeps{
		Clients: a.Clients, Users: a.Users, Sessions: a.Store, Limiter: limiter, Codes: token, Log: a.Log,
		SignedOut: a.logouts.SessionEnded,
	})
	a.Registration = registration.New(registration.Config{
		Issuer: cfg.Issuer, Open: cfg.Registration.Open, AllowedGrantTypes: cfg.Registration.AllowedGrantTypes,
		Anonymous: cfg.Registration.Anonymous, AnonymousPerIPPerHour: cfg.Registration.AnonymousPerIPPerHour, Limiter: limiter,
	}, a.Clients, a.Store, revoker, a.Log)
	a.Clients.ExpireAnonymousAfter(cfg.Registration.AnonymousUnusedTTL)
	var accessLog *slog.Logger
	if cfg.AccessLog {
		accessLog = a.Log
	}
	a.Public = server.NewPublic(server.Options{
		Issuer: cfg.Issuer, Scopes: cfg.Scopes, Token: token, Authorize: authorize, JWKS: km.JWKS, JWKSMaxAge: cfg.Signing.JWKSMaxAge, Log: a.Log,
		Registration: server.NewRegistration(a.Registration, cfg.Limits.MaxBodyBytes, a.Log),
		Revocation:   token.RevocationHandler(), Introspection: token.IntrospectionHandler(), UserInfo: token.UserInfoHandler(),
		EndSession: server.NewEndSession(authorize, a.Issuer), BackchannelLogout: true, DPoPAlgs: dpop.DefaultAlgorithms, ClientIDMetadata: cfg.ClientIDMetadata.Enabled,
		AccessLog: accessLog, Metrics: a.Metrics.Gin("public"),
	})
	a.Admin = admin.New(admin.Options{
		Token: a.AdminToken, Clients: a.Clients, Users: a.Users, Families: a.Store, Keys: km, Audit: a.Log,
		InitialAccessTokens: a.Registration, Revoker: revoker, AccessLog: accessLog,
		Metrics: a.Metrics.Gin("admin"), MetricsHandler: a.Metrics.Handler(), Backup: a.backup,
		Resources: a.Resources,
	})
	a.Health = health.New(readyTimeout, a.Log,
		health.Check{Name: "store", Run: a.Store.Ping},
		health.Check{Name: "keys", Run: func(context.Context) error {
			for _, alg := range km.Algs() {
				if _, ok := km.SigningKeyFor(alg); !ok {
					return fmt.Errorf("no %s signing key loaded", alg)
				}
			}
			return nil
		}},
	)
	// Outermost, so every limit and audit record sees one client address.
	proxies, err := ratelimit.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("config: trusted_proxies: %w", err)
	}
	a.Public, a.Admin = proxies.Handler(a.Health.Wrap(a.Public)), proxies.Handler(a.Health.Wrap(a.Admin))
	return nil
}

// keysTick is the periodic key work of a node: reload, then the scheduled
// rotation, which one node performs for all.
func (a *App) keysTick(ctx context.Context) {
	if err := a.Keys.Reload(ctx); err != nil {
		a.Log.Error("reload signing keys", "err", err)
	}
	added, err := a.Keys.RotateIfDue(ctx)
	if err != nil {
		a.Log.Error("scheduled signing-key rotation", "err", err)
	}
	for _, k := range added {
		a.Log.Info("scheduled signing-key rotation", "kid", k.ID, "alg", k.Alg, "signs_from", k.SignsFrom)
	}
}

// readyTimeout bounds the readiness checks: a store that takes longer to
// answer a ping is not ready to serve requests.
const readyTimeout = time.Second

// Close releases the store.
func (a *App) Close() error {
	if a.logouts != nil {
		a.logouts.Close()
	}
	a.stopCache()
	a.cacheDone.Wait()
	return a.Store.Close()
}

// Run serves both listeners until ctx ends, then shuts down gracefully.
// Every config.KeyReloadInterval it reloads the key set (should an
// announcement of a change have been lost) and performs a scheduled
// rotation when one is due.
func (a *App) Run(ctx context.Context) error {
	pub, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	adm, err := net.Listen("tcp", a.Config.AdminListen)
	if err != nil {
		pub.Close()
		return fmt.Errorf("admin_listen: %w", err)
	}
	return a.Serve(ctx, pub, adm)
}

// shutdownTimeout bounds how long requests in flight may finish at shutdown.
const shutdownTimeout = 10 * time.Second

// NewLogger is the server's logger: JSON lines to w, from cfg's log_level up.
func NewLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
}

// drain turns /readyz to 503 and keeps both listeners serving for the
// drain delay, so load balancers stop sending new requests before
// Shutdown closes idle keep-alive connections (on which a request may
// already be on its way). A listener that fails ends the wait.
func (a *App) drain(errc <-chan error) {
	a.Health.Drain()
	d := a.Config.Shutdown.DrainDelay
	a.Log.Info("draining before shutdown", "delay", d.String())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case err := <-errc:
		a.Log.Error("listener failed while draining", "err", err)
	}
}

// writeTimeout is both listeners' http.Server.WriteTimeout.
const writeTimeout = 60 * time.Second

// Serve is Run on listeners the caller opened (tests use port 0).
func (a *App) Serve(ctx context.Context, pub, adm net.Listener) error {
	// WriteTimeout bounds how long a slow or stalled reader can hold a
	// connection and its goroutine; the slowest request (an argon2id check,
	// a sign-in page) takes well under a second, so 60 s cuts nothing real.
	// GET /admin/backup, which streams for longer, sets its own deadline
	// (http.ResponseController). IdleTimeout closes keep-alive
	// connections nobody uses, on the admin listener too.
	servers := []*http.Server{
		{Handler: a.Public, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute},
		{Handler: a.Admin, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute},
	}
	for _, s := range servers {
		// net/http's own complaints (TLS handshake errors, a handler's
		// panic) go into the JSON log, not bare lines on stderr.
		s.ErrorLog = slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)
	}
	serve := []func(net.Listener) error{servers[0].Serve, servers[1].Serve}
	if a.Config.TLS.CertFile != "" {
		tc, err := a.publicTLS()
		if err != nil {
			pub.Close()
			adm.Close()
			return err
		}
		servers[0].TLSConfig = tc
		serve[0] = func(l net.Listener) error { return servers[0].ServeTLS(l, "", "") }
	}
	errc := make(chan error, 2)
	for i, l := range []net.Listener{pub, adm} {
		go func() { errc <- serve[i](l) }()
	}
	b := BuildInfo()
	attrs := []any{"public", pub.Addr().String(), "admin", adm.Addr().String(),
		"tls", a.Config.TLS.CertFile != "", "issuer", a.Config.Issuer, "store", a.Config.StoreKind(), "version", b.Version, "go_version", b.GoVersion}
	if b.Revision != "" { // a build without VCS stamping (-buildvcs=false) has none
		attrs = append(attrs, "revision", b.Revision, "modified", b.Modified)
	}
	a.Log.Info("serving", attrs...)

	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() { defer close(swept); a.sweepAnonymous(sweepCtx) }()
	defer func() { stopSweep(); <-swept }() // before the store closes

	tick := time.NewTicker(config.KeyReloadInterval)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-tick.C:
			a.keysTick(ctx)
		}
	}
	if runErr == nil {
		a.drain(errc)
	}
	a.Log.Info("shutting down: draining connections", "timeout", shutdownTimeout.String())
	began := time.Now()
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdown); err != nil {
			a.Log.Warn("shutdown: connections still open were closed", "err", err)
		}
	}
	a.Log.Info("shut down", "took_ms", time.Since(began).Milliseconds())
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}
