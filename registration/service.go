// Package registration is dynamic client registration: RFC 7591 (a client
// registers itself at /register) and RFC 7592 (it then reads, updates and
// deletes its registration with a registration access token). It maps RFC
// client metadata to clients.Registration and checks it, and keeps the
// initial access tokens that admins hand to partners, by hash, in a store
// of its own narrow contract (TokenStore).
package registration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"authserver/audit"
	"authserver/clients"
	"authserver/ratelimit"
)

// Limits of initial access tokens.
const (
	DefaultTokenTTL  = 24 * time.Hour
	MaxTokenTTL      = 365 * 24 * time.Hour
	DefaultTokenUses = 1
	MaxTokenUses     = 1_000_000
)

// Config is the registration policy.
type Config struct {
	// Issuer is the base of registration_client_uri.
	Issuer string
	// Open lets anyone register without an initial access token.
	Open bool
	// AllowedGrantTypes bounds the grant types a registering client may
	// ask for.
	AllowedGrantTypes []string
	// Anonymous lets anyone register without an initial access token, as
	// Open does, but only a public client within checkAnonymous, at most
	// AnonymousPerIPPerHour per source, counted by Limiter (required).
	Anonymous             bool
	AnonymousPerIPPerHour int
	Limiter               *ratelimit.Limiter
}

// Service registers and manages self-registered clients.
type Service struct {
	cfg     Config
	clients *clients.Registry
	tokens  TokenStore
	revoker ClientRevoker
	audit   *audit.Logger
	now     func() time.Time
}

// New returns a Service. log receives one audit record per registration,
// update and deletion (nil discards them).
func New(cfg Config, registry *clients.Registry, tokens TokenStore, revoker ClientRevoker, log *slog.Logger) *Service {
	cfg.AllowedGrantTypes = slices.Clone(cfg.AllowedGrantTypes)
	return &Service{cfg: cfg, clients: registry, tokens: tokens, revoker: revoker, audit: audit.New(log), now: time.Now}
}

// ClientRevoker ends every grant of a client (*tokens.Revoker).
type ClientRevoker interface {
	RevokeClient(ctx context.Context, clientID, reason string) (int, error)
}

// UnauthorizedError is a missing or invalid initial or registration access
// token (HTTP 401, RFC 6750 invalid_token).
type UnauthorizedError struct{ Description string }

func (e *UnauthorizedError) Error() string { return e.Description }

// ParamError is a bad parameter of an admin request.
type ParamError struct{ Field, Reason string }

func (e *ParamError) Error() string { return e.Field + ": " + e.Reason }

var (
	errNoInitialToken  = &UnauthorizedError{"an initial access token is required (Authorization: Bearer)"}
	errBadInitialToken = &UnauthorizedError{"the initial access token is invalid, expired or used up"}
	errBadRegToken     = &UnauthorizedError{"the registration access token is invalid for this client"}
)

// IssueInitialAccessToken creates an initial access token valid for ttl and
// uses registrations (0: the defaults). The token is returned this once;
// only its hash is stored.
func (s *Service) IssueInitialAccessToken(ctx context.Context, ttl time.Duration, uses int64) (string, InitialAccessToken, error) {
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if uses == 0 {
		uses = DefaultTokenUses
	}
	if ttl < time.Second || ttl > MaxTokenTTL {
		return "", InitialAccessToken{}, &ParamError{"ttl", fmt.Sprintf("must be between 1s and %s", MaxTokenTTL)}
	}
	if uses < 1 || uses > MaxTokenUses {
		return "", InitialAccessToken{}, &ParamError{"uses", fmt.Sprintf("must be between 1 and %d", MaxTokenUses)}
	}
	token := randomToken()
	t := InitialAccessToken{ExpiresAt: s.now().UTC().Add(ttl).Truncate(time.Millisecond), UsesLeft: uses}
	if err := s.tokens.CreateInitialAccessToken(ctx, clients.HashSecret(token), t); err != nil {
		return "", InitialAccessToken{}, err
	}
	return token, t, nil
}

// Register is RFC 7591 §3.1: it checks the initial access token (none
// needed when registration is open), then the metadata, and only then
// spends a use of the token, so a refused registration costs the partner
// nothing. The answer carries the client secret and registration access
// token, shown this once.
func (s *Service) Register(ctx context.Context, initialToken string, md Metadata) (*Information, error) {
	if initialToken == "" && s.cfg.Anonymous && !s.cfg.Open {
		return s.RegisterFrom(ctx, "", initialToken, md) // the anonymous rules, whoever calls
	}
	if err := s.CheckInitialAccessToken(ctx, initialToken); err != nil {
		return nil, err
	}
	reg, desc, err := md.toRegistration(s.cfg.AllowedGrantTypes)
	if err != nil {
		return nil, err
	}
	if err := s.clients.CheckRegistration(ctx, reg); err != nil {
		return nil, fromClients(err)
	}
	if initialToken != "" {
		// A concurrent registration may have spent the last use since the
		// lookup: this step decides.
		if _, err := s.tokens.UseInitialAccessToken(ctx, clients.HashSecret(initialToken), s.now()); err != nil {
			return nil, tokenErr(err)
		}
	}
	c, secret, regToken, err := s.clients.Register(ctx, reg, desc)
	if err != nil {
		return nil, fromClients(err)
	}
	s.audit.Info(ctx, audit.ClientRegistered, audit.ClientID(c.ID), slog.String("operation", "create"),
		slog.String("name", c.Name), slog.Any("grant_types", c.GrantTypes), slog.Bool("open", initialToken == ""))
	return information(c, secret, regToken, s.clientURI(c.ID)), nil
}

// CheckInitialAccessToken reports whether a registration may go ahead on
// token without spending a use: it may if the token is valid, or if none
// is given and registration is open. A token given to an open server must
// be valid too.
func (s *Service) CheckInitialAccessToken(ctx context.Context, token string) error {
	if token == "" {
		if s.cfg.Open || s.cfg.Anonymous {
			return nil
		}
		return errNoInitialToken
	}
	_, err := s.tokens.LookupInitialAccessToken(ctx, clients.HashSecret(token), s.now())
	return tokenErr(err)
}

// CheckRegistrationAccessToken reports whether token is the registration
// access token of client clientID.
func (s *Service) CheckRegistrationAccessToken(ctx context.Context, clientID, token string) error {
	_, err := s.authenticate(ctx, clientID, token)
	return err
}

// Read is RFC 7592 §2.1. The registration access token in the answer is the
// one presented: only its hash is kept.
func (s *Service) Read(ctx context.Context, clientID, regToken string) (*Information, error) {
	c, err := s.authenticate(ctx, clientID, regToken)
	if err != nil {
		return nil, err
	}
	return information(c, "", regToken, s.clientURI(c.ID)), nil
}

// Update is RFC 7592 §2.2: the request replaces the client's metadata
// (omitted fields are removed or take their defaults); client_id must be
// the client's own and a client_secret, if sent, its current one.
func (s *Service) Update(ctx context.Context, clientID, regToken string, req UpdateRequest) (*Information, error) {
	c, err := s.authenticate(ctx, clientID, regToken)
	if err != nil {
		return nil, err
	}
	if req.ClientID != c.ID {
		return nil, metadataErr("client_id must be this client's identifier")
	}
	if req.ClientSecret != nil && !c.SecretMatches(clients.HashSecret(*req.ClientSecret), s.now()) {
		return nil, metadataErr("client_secret does not match the client's secret; it cannot be chosen by the client")
	}
	if f := req.serverFields(); len(f) > 0 {
		return nil, metadataErr("%s: set by the server, not part of an update (RFC 7592 section 2.2)", strings.Join(f, ", "))
	}
	reg, desc, err := req.toRegistration(s.cfg.AllowedGrantTypes)
	if err != nil {
		return nil, err
	}
	if c.Anonymous {
		// It stays within the rules it registered under.
		if err := checkAnonymous(req.Metadata, reg); err != nil {
			return nil, err
		}
	}
	u, err := s.clients.UpdateRegistration(ctx, c, reg, desc)
	if errors.Is(err, clients.ErrNotFound) {
		return nil, errBadRegToken // deleted meanwhile
	}
	if err != nil {
		return nil, fromClients(err)
	}
	s.audit.Info(ctx, audit.ClientRegistered, audit.ClientID(u.ID), slog.String("operation", "update"),
		slog.Any("grant_types", u.GrantTypes))
	return information(u, "", regToken, s.clientURI(u.ID)), nil
}

// Delete is RFC 7592 §2.3: the client is revoked (its codes, consents and
// refresh families end, with their newest access tokens) and removed, so
// its secret stops working at once.
func (s *Service) Delete(ctx context.Context, clientID, regToken string) error {
	c, err := s.authenticate(ctx, clientID, regToken)
	if err != nil {
		return err
	}
	if _, err := s.revoker.RevokeClient(ctx, c.ID, "registration.delete"); err != nil {
		return err
	}
	err = s.clients.Delete(ctx, c.ID)
	if errors.Is(err, clients.ErrNotFound) {
		return errBadRegToken
	}
	if err != nil {
		return err
	}
	s.audit.Info(ctx, audit.ClientRegistered, audit.ClientID(c.ID), slog.String("operation", "delete"))
	return nil
}

func (s *Service) authenticate(ctx context.Context, clientID, regToken string) (*clients.Client, error) {
	if regToken == "" {
		return nil, &UnauthorizedError{"a registration access token is required (Authorization: Bearer)"}
	}
	c, err := s.clients.AuthenticateRegistration(ctx, clientID, regToken)
	if errors.Is(err, clients.ErrAuthenticationFailed) {
		return nil, errBadRegToken
	}
	return c, err
}

func (s *Service) clientURI(id string) string {
	return strings.TrimRight(s.cfg.Issuer, "/") + "/register/" + url.PathEscape(id)
}

func tokenErr(err error) error {
	if errors.Is(err, ErrTokenInvalid) {
		return errBadInitialToken
	}
	return err
}

// randomToken is 256 random bits, base64url: an initial access token.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
