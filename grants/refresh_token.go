package grants

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/go-oauth2/oauth2/v4"
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
func (e *Endpoint) refresh(ctx context.Context, st *tokenRequest, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	familyID, ok := tokens.ParseRefreshToken(tgr.Refresh)
	if !ok {
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
	}
	var narrowed []string
	if tgr.Scope != "" {
		// Only a request that narrows the scope pays a second round trip:
		// the family's scope is needed before the token is consumed, and it
		// never changes, so reading it first is safe.
		want, ok := clients.ParseScope(tgr.Scope)
		if !ok {
			return nil, oauthErr(oerrors.ErrInvalidScope, "malformed scope")
		}
		f, err := e.families.GetFamily(ctx, familyID)
		if errors.Is(err, tokens.ErrFamilyNotFound) {
			return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
		}
		if err != nil {
			return nil, err
		}
		if f.ClientID == st.client.ID { // otherwise rotation answers invalid_grant below
			have := strings.Fields(f.Scope)
			for _, s := range want {
				if !slices.Contains(have, s) {
					return nil, oauthErr(oerrors.ErrInvalidScope, "a refresh may narrow the scope, never widen it")
				}
			}
			narrowed = want
		}
	}

	next, nextHash := tokens.NewRefreshToken(familyID)
	jti := tokens.NewJTI()
	f, err := e.families.RotateRefresh(ctx, tokens.Rotation{
		FamilyID: familyID, ClientID: st.client.ID,
		Presented: tokens.Hash(tgr.Refresh), Next: nextHash, NextJTI: jti,
		Now: st.now, Idle: e.cfg.RefreshIdleTTL, Grace: e.cfg.RefreshGrace,
	})
	switch {
	case errors.Is(err, tokens.ErrReuse):
		e.events.Warn(ctx, audit.RefreshReuse, audit.FamilyID(familyID), audit.ClientID(st.client.ID), audit.UserID(f.UserID))
		// The rotation revoked the family in the same atomic step; what is
		// left is denying its newest access token.
		_ = e.familyRevoked(ctx, f, audit.RefreshReuse, tokens.DenyNewestAccess(ctx, e.deny, f, e.cfg.AccessTTL, e.now()))
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
	case errors.Is(err, tokens.ErrClientMismatch):
		e.events.Warn(ctx, audit.RefreshClientMismatch, audit.FamilyID(familyID), audit.ClientID(st.client.ID))
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
	case errors.Is(err, tokens.ErrFamilyNotFound), errors.Is(err, tokens.ErrFamilyRevoked):
		return nil, oauthErr(oerrors.ErrInvalidGrant, "invalid refresh token")
	case err != nil:
		return nil, err
	}

	scope := f.Scope
	if narrowed != nil {
		scope = strings.Join(narrowed, " ")
	}
	ti, err := e.issueAccess(ctx, st, f.UserID, scope, jti)
	if err != nil {
		return nil, err
	}
	ti.SetRefresh(next)
	return ti, nil
}
