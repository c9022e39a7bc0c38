package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"authserver/audit"
)

// # What dies when
//
// The Revoker is the one owner of revocation: the admin API, the CLI,
// registration, /revoke, code replays and refresh reuse all revoke through
// it, and no handler keeps a rule of its own.
//
//   - A user is revoked (sign-out everywhere, new password, disabled,
//     deleted): the user's generation moves on, which ends every browser
//     session, unredeemed authorization code and remembered consent made
//     under an earlier one (each records the generation it was made under,
//     and is checked where it is used); every live refresh family of the
//     user is revoked and its newest access token denied.
//   - A client is revoked (disabled, deleted): the same for the client,
//     through the client's generation and its families.
//   - A family is revoked (refresh reuse, code replay, /revoke): the family
//     and its newest access token.
//
// Generations, not lists, end sessions, codes and consents: a generation is
// one write however many there are, and one made concurrently with the
// revocation still carries the old generation, so it cannot slip through
// the gap between listing and revoking. Families are revoked actively too,
// so that their newest access tokens can be denied and introspection calls
// them inactive at once; a family that slips through that gap is still
// refused at its next refresh, which checks both generations.

// UserGenerations moves a user's generation on (users.Service); nil when
// there is no such user (a deleted one has nothing left to end, beyond its
// families).
type UserGenerations interface {
	EndUserGeneration(ctx context.Context, userID string) error
}

// ClientGenerations is the same for clients (clients.Registry).
type ClientGenerations interface {
	EndClientGeneration(ctx context.Context, clientID string) error
}

// FamilyIndex lists the live families of a user or a client.
type FamilyIndex interface {
	ListUserFamilies(ctx context.Context, userID string) ([]Family, error)
	ListClientFamilies(ctx context.Context, clientID string) ([]Family, error)
}

// RevokerStore is what the Revoker needs of the store.
type RevokerStore interface {
	FamilyIndex
	RevokeFamily(ctx context.Context, id string, tombstoneTTL time.Duration) (Family, error)
	DenyList
}

// Reasons a family is revoked, as the audit log names them.
const (
	ReasonRevokedByClient = "revoked_by_client"
	ReasonRefreshReuse    = audit.RefreshReuse
	ReasonCodeReplayed    = audit.CodeReplayed
	// ReasonUserChanged and ReasonClientChanged: a family found at refresh
	// to outlive a revocation of its user or client.
	ReasonUserChanged   = "user_revoked"
	ReasonClientChanged = "client_revoked"
)

// Revoker revokes users, clients, families and access tokens.
type Revoker struct {
	store   RevokerStore
	users   UserGenerations
	clients ClientGenerations
	// accessTTL bounds every access token, so a denial lasts that long.
	accessTTL time.Duration
	// tombstoneTTL outlives any code that could still start a family that
	// is revoked before it exists.
	tombstoneTTL time.Duration
	events       *audit.Logger
	log          *slog.Logger
	now          func() time.Time
	// signedOut is told of every revoked user and the clients it held
	// families with (back-channel logout); nil tells no one.
	signedOut func(ctx context.Context, userID string, clientIDs []string)
}

// OnUserRevoked has f told, after each RevokeUser, which user was revoked
// and which clients held its families: the one place every way a user's
// sessions end (sign-out everywhere, new password, disable, delete) passes.
// f must not block.
func (r *Revoker) OnUserRevoked(f func(ctx context.Context, userID string, clientIDs []string)) {
	r.signedOut = f
}

// NewRevoker returns the Revoker. codeTTL and accessTTL are the server's
// lifetimes of codes and access tokens.
func NewRevoker(st RevokerStore, u UserGenerations, c ClientGenerations, codeTTL, accessTTL time.Duration, log *slog.Logger) *Revoker {
	if log == nil {
		log = slog.Default()
	}
	return &Revoker{
		store: st, users: u, clients: c, accessTTL: accessTTL, tombstoneTTL: codeTTL + accessTTL,
		events: audit.New(log), log: log, now: time.Now,
	}
}

// RevokeUser ends everything the user signed in to and returns how many
// families it revoked. It is safe to retry after an error: what was revoked
// stays revoked.
func (r *Revoker) RevokeUser(ctx context.Context, userID, reason string) (int, error) {
	if err := r.users.EndUserGeneration(ctx, userID); err != nil {
		return 0, fmt.Errorf("end the user's sessions: %w", err)
	}
	fams, err := r.store.ListUserFamilies(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("list the user's refresh token families: %w", err)
	}
	n, err := r.revokeAll(ctx, fams, reason)
	if r.signedOut != nil {
		// The generation has moved on: every session is over, whatever
		// revokeAll managed.
		ids := []string{}
		for _, f := range fams {
			if !slices.Contains(ids, f.ClientID) {
				ids = append(ids, f.ClientID)
			}
		}
		r.signedOut(ctx, userID, ids)
	}
	return n, err
}

// RevokeClient ends every grant of the client and returns how many families
// it revoked; retried like RevokeUser.
func (r *Revoker) RevokeClient(ctx context.Context, clientID, reason string) (int, error) {
	if err := r.clients.EndClientGeneration(ctx, clientID); err != nil {
		return 0, fmt.Errorf("end the client's grants: %w", err)
	}
	fams, err := r.store.ListClientFamilies(ctx, clientID)
	if err != nil {
		return 0, fmt.Errorf("list the client's refresh token families: %w", err)
	}
	return r.revokeAll(ctx, fams, reason)
}

func (r *Revoker) revokeAll(ctx context.Context, fams []Family, reason string) (int, error) {
	n := 0
	for _, f := range fams {
		revoked, err := r.RevokeFamily(ctx, f.ID, reason)
		if revoked {
			n++
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// RevokeFamily revokes a family and denies its newest access token, which
// may be in the same hands as its refresh token (RFC 7009 §2.1). When the
// family does not exist (yet) a tombstone stops it from starting later (a
// replayed code whose first redemption is still issuing). revoked reports
// whether a live family was revoked by this call or before.
func (r *Revoker) RevokeFamily(ctx context.Context, id, reason string) (revoked bool, err error) {
	f, err := r.store.RevokeFamily(ctx, id, r.tombstoneTTL)
	switch {
	case errors.Is(err, ErrFamilyNotFound), errors.Is(err, ErrFamilyRevoked):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("revoke refresh token family: %w", err)
	}
	return true, r.FamilyRevoked(ctx, f, reason)
}

// FamilyRevoked finishes a revocation the store has already made (a
// rotation that detected reuse revokes the family in its own atomic step):
// it denies the family's newest access token and writes the audit record.
func (r *Revoker) FamilyRevoked(ctx context.Context, f Family, reason string) error {
	log := r.events.Info // asked for: by the client, an admin, a registration
	switch reason {
	case ReasonRefreshReuse, ReasonCodeReplayed, ReasonUserChanged, ReasonClientChanged:
		log = r.events.Warn // perhaps a stolen token
	}
	log(ctx, audit.FamilyRevoked, audit.FamilyID(f.ID), audit.ClientID(f.ClientID), audit.UserID(f.UserID), audit.Reason(reason))
	if f.LastJTI == "" {
		return nil
	}
	if err := r.DenyAccess(ctx, f.LastJTI, r.now()); err != nil {
		return fmt.Errorf("deny the newest access token of a revoked family: %w", err)
	}
	return nil
}

// DenyAccess denies the access token with jti issued at or before
// issuedBy: until issuedBy + the access token lifetime, past its exp.
func (r *Revoker) DenyAccess(ctx context.Context, jti string, issuedBy time.Time) error {
	return r.store.DenyJTI(ctx, jti, issuedBy.Add(r.accessTTL))
}

// DenyUntil denies an access token whose expiry is known.
func (r *Revoker) DenyUntil(ctx context.Context, jti string, exp time.Time) error {
	return r.store.DenyJTI(ctx, jti, exp)
}
