package grants

import (
	"context"
	"errors"
	"slices"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/clients"
	"authserver/tokens"
)

// refresh (RFC 6749 §6, RFC 9700 §4.14.2): the presented token is consumed
// and replaced in one atomic store step (see package tokens for the state
// machine). go-oauth2's RefreshAccessToken never checks which client
// presents the token, lets the scope widen, and rotates in three
// non-atomic calls; this replaces all of it.
//
// A family outlives neither its user nor its client: after the rotation
// the client's and the user's current generations are checked (a family
// made before either was revoked is revoked now), and the scope is cut to
// what the client still holds.
func (e *Endpoint) refresh(ctx context.Context, req *tokenRequest) (*issued, error) {
	presented, err := required(req, "refresh_token")
	if err != nil {
		return nil, err
	}
	familyID, gen, err := e.chain.Parse(presented)
	if errors.Is(err, tokens.ErrForgedRefresh) {
		e.events.Warn(ctx, audit.RefreshForged, audit.FamilyID(familyID), audit.ClientID(req.client.ID))
	}
	if err != nil {
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
	}
	if err := e.checkFamilyKey(ctx, req, familyID); err != nil {
		return nil, err
	}
	var narrowed []string
	if req.scope != "" || len(req.resources) > 0 {
		// Only a request that narrows the scope or names resources pays a
		// second round trip: the family's scope and resources are needed
		// before the token is consumed, and they never change, so reading
		// them first is safe.
		want, _ := clients.ParseScope(req.scope) // well formed: checked in step 4
		f, err := e.families.GetFamily(ctx, familyID)
		if errors.Is(err, tokens.ErrFamilyNotFound) {
			return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
		}
		if err != nil {
			return nil, err
		}
		if f.ClientID == req.client.ID { // otherwise rotation answers invalid_grant below
			have := strings.Fields(f.Scope)
			for _, s := range want {
				if !slices.Contains(have, s) {
					return nil, oauthErr(oerrors.ErrInvalidScope, "a refresh may narrow the scope, never widen it")
				}
			}
			narrowed = want
			// Resources and what they leave of the scope are judged now
			// too, so a refused request leaves the token unused.
			if _, err := e.grantTarget(ctx, req.resources, f.Resources, refreshScope(req.client, f, narrowed)); err != nil {
				return nil, err
			}
		}
	}

	// The successor is a function of the presented token, so a retry
	// computes the same one: the store recognises it as current (Retried)
	// and the client gets what the lost answer carried.
	next := e.chain.Next(familyID, gen, presented)
	f, outcome, err := e.families.RotateRefresh(ctx, tokens.Rotation{
		FamilyID: familyID, ClientID: req.client.ID,
		Presented: tokens.Hash(presented), Generation: gen, Next: next.Hash, NextJTI: next.JTI,
		Now: req.now, Idle: e.cfg.RefreshIdleTTL, Grace: e.cfg.RefreshGrace,
	})
	invalid := oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
	switch {
	case errors.Is(err, tokens.ErrReuse):
		e.events.Warn(ctx, audit.RefreshReuse, audit.FamilyID(familyID), audit.ClientID(req.client.ID), audit.UserID(f.UserID))
		// The rotation revoked the family in the same atomic step; what is
		// left is denying its newest access token.
		if err := e.revoker.FamilyRevoked(ctx, f, tokens.ReasonRefreshReuse); err != nil {
			e.audit.ErrorContext(ctx, "finish revoking a reused family", "family_id", f.ID, "err", err)
		}
		return nil, invalid
	case errors.Is(err, tokens.ErrClientMismatch):
		e.events.Warn(ctx, audit.RefreshClientMismatch, audit.FamilyID(familyID), audit.ClientID(req.client.ID))
		return nil, invalid
	case errors.Is(err, tokens.ErrFamilyNotFound), errors.Is(err, tokens.ErrFamilyRevoked):
		return nil, invalid
	case err != nil:
		return nil, err
	case outcome == tokens.Retried:
		e.events.Info(ctx, audit.RefreshRetried, audit.FamilyID(familyID), audit.ClientID(req.client.ID), audit.UserID(f.UserID))
	case outcome == tokens.Recovered:
		e.events.Warn(ctx, audit.RefreshRecovered, audit.FamilyID(familyID), audit.ClientID(req.client.ID), audit.UserID(f.UserID))
	}
	if err := e.familyStillGranted(ctx, req.client, f); err != nil {
		return nil, err
	}
	// A family bound while its client was public stays bound.
	if err := e.familyKeyMatches(ctx, f, req); err != nil {
		return nil, err
	}

	scope := refreshScope(req.client, f, narrowed)
	// Checked again on the family the rotation returned: that one is
	// the store's word.
	t, err := e.grantTarget(ctx, req.resources, f.Resources, scope)
	if err != nil {
		return nil, err
	}
	access, err := e.mint(req, f.UserID, t, next.JTI)
	if err != nil {
		return nil, err
	}
	// Core §12.2: the same sub, auth_time and sid as at sign-in, and no
	// nonce.
	idToken, err := e.idToken(req, f.UserID, scope, access, "", f.SessionID, f.AuthTime)
	if err != nil {
		return nil, err
	}
	return &issued{access: access, refresh: next.Token, scope: t.scope, ttl: t.ttl, idToken: idToken}, nil
}

// familyStillGranted refuses, and revokes, a family whose client or user
// was revoked after it began: one that a revocation running at the same
// time as its creation did not list.
func (e *Endpoint) familyStillGranted(ctx context.Context, c *clients.Client, f tokens.Family) error {
	reason := ""
	if f.ClientGeneration != c.Generation {
		reason = tokens.ReasonClientChanged
	} else {
		ok, err := e.userIsCurrent(ctx, f.UserID, f.UserGeneration)
		if err != nil {
			return err
		}
		if !ok {
			reason = tokens.ReasonUserChanged
		}
	}
	if reason == "" {
		return nil
	}
	if _, err := e.revoker.RevokeFamily(ctx, f.ID, reason); err != nil {
		return err
	}
	return oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
}

// refreshScope is the scope a refresh grants: the family's, or the
// narrower one asked for, less what the client no longer holds.
func refreshScope(c *clients.Client, f tokens.Family, narrowed []string) string {
	scope := f.Scope
	if narrowed != nil {
		scope = strings.Join(narrowed, " ")
	}
	return c.LiveScope(scope)
}
