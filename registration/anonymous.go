package registration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"authserver/audit"
	"authserver/clients"
	"authserver/ratelimit"
)

// anonymousGrants are all an anonymous client may have: it signs users in
// through the browser, as a public client with PKCE.
var anonymousGrants = []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken}

// RegisterFrom is Register for a request from source (ratelimit.ClientIP).
// Without an initial access token on a server whose registration is
// anonymous rather than open, the client must fit the anonymous rules
// (checkAnonymous), and each source may register
// AnonymousPerIPPerHour of them an hour.
func (s *Service) RegisterFrom(ctx context.Context, source, initialToken string, md Metadata) (*Information, error) {
	if initialToken != "" || s.cfg.Open || !s.cfg.Anonymous {
		return s.Register(ctx, initialToken, md)
	}
	for _, gt := range md.GrantTypes { // before toRegistration, to name the rule that refuses
		if !slices.Contains(anonymousGrants, gt) {
			return nil, metadataErr("without an initial access token grant_types may only be authorization_code and refresh_token")
		}
	}
	reg, desc, err := md.toRegistration(intersect(s.cfg.AllowedGrantTypes, anonymousGrants))
	if err != nil {
		return nil, err
	}
	if err := checkAnonymous(md, reg); err != nil {
		return nil, err
	}
	if err := s.clients.CheckRegistration(ctx, reg); err != nil {
		return nil, fromClients(err)
	}
	// Counted once the metadata is good, so a client fixing a typo is not
	// locked out; one atomic step per attempt, so concurrent attempts
	// cannot pass the limit together.
	quota := ratelimit.Policy{Max: int64(s.cfg.AnonymousPerIPPerHour), Window: time.Hour}
	if err := s.cfg.Limiter.Fail(ctx, "anonymous-registration:"+source, quota); err != nil {
		if l, ok := errors.AsType[*ratelimit.LimitedError](err); ok {
			s.audit.Warn(ctx, audit.Lockout, slog.String("limit", "anonymous_registration"), slog.String("source", source))
			return nil, &LimitedError{RetryAfter: l.RetryAfterSeconds()}
		}
		return nil, err
	}
	c, regToken, err := s.clients.RegisterAnonymous(ctx, reg, desc)
	if err != nil {
		return nil, fromClients(err)
	}
	s.audit.Info(ctx, audit.ClientRegistered, audit.ClientID(c.ID), slog.String("operation", "create"),
		slog.String("name", c.Name), slog.Any("grant_types", c.GrantTypes), slog.Bool("anonymous", true))
	return information(c, "", regToken, s.clientURI(c.ID)), nil
}

// LimitedError is a source over its anonymous registration quota (HTTP
// 429 with Retry-After).
type LimitedError struct{ RetryAfter int64 }

func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many registrations from this address; retry after %d seconds", e.RetryAfter)
}

// checkAnonymous holds a client registered by anyone to what cannot be
// abused: public (no secret to leak or to mint client_credentials tokens
// with), the authorization code grant (every token needs a user's
// consent), and redirect URIs that are https or a loopback address, so a
// code can go only to a site that proves its name or to the user's own
// machine (no private-use schemes another app could claim).
func checkAnonymous(md Metadata, reg clients.Registration) error {
	if md.TokenEndpointAuthMethod != clients.AuthNone || !reg.Public {
		return metadataErr("without an initial access token only public clients may register: token_endpoint_auth_method must be \"none\"")
	}
	for _, gt := range reg.GrantTypes {
		if !slices.Contains(anonymousGrants, gt) {
			return metadataErr("without an initial access token grant_types may only be authorization_code and refresh_token")
		}
	}
	if !slices.Contains(reg.GrantTypes, clients.GrantAuthorizationCode) {
		return metadataErr("without an initial access token the authorization_code grant is required")
	}
	for _, uris := range [][]string{reg.RedirectURIs, reg.PostLogoutRedirectURIs} {
		for _, raw := range uris {
			if !httpsOrLoopback(raw) {
				return redirectErr("without an initial access token redirect URIs must be https or http on a loopback address (127.0.0.1, [::1], localhost)")
			}
		}
	}
	// Both make the server fetch or post to a URL the registrant chose.
	if reg.BackchannelLogoutURI != "" {
		return metadataErr("without an initial access token backchannel_logout_uri is not accepted")
	}
	if reg.SectorIdentifierURI != "" {
		return metadataErr("without an initial access token sector_identifier_uri is not accepted")
	}
	return nil
}

func httpsOrLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return u.Host != ""
	case "http":
		return clients.IsLoopbackHost(u.Hostname())
	}
	return false
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// DeleteUnused deletes the anonymous clients that got no token for
// registration.anonymous_unused_ttl (Lookup already refuses them): each is
// revoked, as an RFC 7592 delete is, then removed. Several nodes may sweep
// at once: a client another removed first is skipped.
func (s *Service) DeleteUnused(ctx context.Context) (int, error) {
	expired, err := s.clients.ExpiredAnonymous(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range expired {
		if _, err := s.revoker.RevokeClient(ctx, c.ID, "registration.anonymous_unused"); err != nil {
			return n, err
		}
		err := s.clients.Delete(ctx, c.ID)
		if errors.Is(err, clients.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
		s.audit.Info(ctx, audit.ClientRegistered, audit.ClientID(c.ID), slog.String("operation", "delete"), slog.String("reason", "anonymous client unused"))
	}
	return n, nil
}
