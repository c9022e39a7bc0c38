package tokens

import (
	"context"
	"errors"
	"time"
)

// Family is one refresh-token family: the chain of refresh tokens that starts
// with one sign-in (one device) and moves on by rotation. The store keeps
// the family and the SHA-256 of its current token only.
type Family struct {
	ID       string    `json:"id"`
	ClientID string    `json:"client_id"`
	UserID   string    `json:"user_id"`
	Scope    string    `json:"scope"`
	AuthTime time.Time `json:"auth_time"`
	// SessionID is the sid of the session the family's code came from: its
	// refreshed ID Tokens carry it too. Empty for other grants.
	SessionID string `json:"sid,omitempty"`
	// Resources are the RFC 8707 resources the family was granted: each
	// refresh may narrow to some of them, never widen. Empty: none named,
	// so its tokens carry the client's audience.
	Resources []string `json:"resources,omitempty"`
	// CreatedAt is when the family started; ExpiresAt is its absolute end.
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// IdleExpiresAt moves on with every rotation: min(last use + idle, ExpiresAt).
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	// Generation is the generation of the current token: 0 for the first,
	// one more with each rotation.
	Generation int64 `json:"generation"`
	// RotatedAt is when the current token replaced the one before it (zero
	// before the first rotation); a retry's grace window runs from it.
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// LastJTI is the jti of the newest access token issued with the family,
	// so revoking the family can deny it too.
	LastJTI string `json:"last_jti,omitempty"`
	Revoked bool   `json:"revoked,omitempty"`
	// UserGeneration and ClientGeneration are the generations of the user
	// and client when the family began; a refresh after either moved on is
	// refused (see Revoker).
	UserGeneration   int64 `json:"user_generation,omitempty"`
	ClientGeneration int64 `json:"client_generation,omitempty"`
	// JKT is the thumbprint of the DPoP key a public client's family is
	// bound to (RFC 9449 §5): every refresh must prove that key. Empty for
	// an unbound family.
	JKT string `json:"jkt,omitempty"`
}

// Rotation asks the store to consume the presented refresh token of a family
// and put its successor in its place, in one atomic step.
type Rotation struct {
	FamilyID  string
	ClientID  string // the authenticated client; must own the family
	Presented []byte // SHA-256 of the token the client presented
	// Generation is the generation the presented token carries, as
	// Chain.Parse verified it: 0 for a family's first token.
	Generation int64
	Next       []byte // SHA-256 of the presented token's successor (Chain.Next)
	NextJTI    string // jti of the access token issued with Next
	Now        time.Time
	Idle       time.Duration // idle lifetime of the family
	// Grace, when > 0, lets the previous token be presented again within
	// Grace of its rotation while its successor is still current: a retry
	// whose answer was lost. Nothing changes, and the caller answers with
	// the same successor again.
	Grace time.Duration
}

// RotateOutcome says what a successful RotateRefresh did.
type RotateOutcome int

const (
	// Rotated: the presented token was current; Next is now.
	Rotated RotateOutcome = iota + 1
	// Retried: the presented token was the previous one, within the grace
	// window, and Next is already current; nothing changed.
	Retried
	// Recovered: the presented token is of a later generation than the
	// current one, so the store lost the rotations that made it (a failover
	// behind an acknowledged answer); Next is now current.
	Recovered
)

func (o RotateOutcome) String() string {
	switch o {
	case Rotated:
		return "rotated"
	case Retried:
		return "retried"
	case Recovered:
		return "recovered"
	}
	return "none"
}

// Refresh store errors. Each is the outcome of one atomic step.
var (
	// ErrFamilyNotFound: no such family, or it expired (idle or absolute).
	ErrFamilyNotFound = errors.New("refresh token family not found or expired")
	// ErrFamilyExists: CreateFamily found the ID taken (or revoked ahead of creation).
	ErrFamilyExists = errors.New("refresh token family already exists")
	// ErrFamilyRevoked: the family was revoked earlier; nothing changed.
	ErrFamilyRevoked = errors.New("refresh token family revoked")
	// ErrClientMismatch: the family belongs to another client; nothing changed.
	ErrClientMismatch = errors.New("refresh token issued to another client")
	// ErrReuse: the presented token is not the current one, not a retry
	// within the grace window and not newer than the current one: the
	// family has been revoked by this call, and RotateRefresh returns it
	// (Revoked, with LastJTI).
	ErrReuse = errors.New("refresh token reuse detected; family revoked")
)

// RefreshStore keeps refresh-token families.
type RefreshStore interface {
	// CreateFamily stores a new family whose current token hashes to
	// tokenHash. f.IdleExpiresAt is set by the caller. ErrFamilyExists if the
	// ID is taken or was revoked before creation (see RevokeFamily).
	CreateFamily(ctx context.Context, f Family, tokenHash []byte) error
	// RotateRefresh performs r atomically and returns the family after it.
	// In order: ErrFamilyNotFound; ErrClientMismatch (no change);
	// ErrFamilyRevoked; Rotated (presented is current); Retried (Next is
	// current and the rotation that made it is within r.Grace); Recovered
	// (r.Generation is later than the current generation); else ErrReuse
	// (family revoked by this call). A rotation sets the current token to
	// Next, the generation to r.Generation+1, RotatedAt to r.Now, LastJTI
	// to r.NextJTI and the idle expiry to min(r.Now+r.Idle, ExpiresAt).
	RotateRefresh(ctx context.Context, r Rotation) (Family, RotateOutcome, error)
	// GetFamily returns the family (revoked ones too, until they expire) or ErrFamilyNotFound.
	GetFamily(ctx context.Context, id string) (Family, error)
	// RevokeFamily marks the family revoked and returns it. When no such
	// family exists yet it leaves a tombstone for tombstoneTTL so a later
	// CreateFamily with that ID fails (a replayed code revoking what its
	// first redemption is still issuing), and returns ErrFamilyNotFound.
	RevokeFamily(ctx context.Context, id string, tombstoneTTL time.Duration) (Family, error)
	// ListUserFamilies returns the user's live (unexpired, unrevoked) families.
	ListUserFamilies(ctx context.Context, userID string) ([]Family, error)
	// ListClientFamilies returns the client's live families.
	ListClientFamilies(ctx context.Context, clientID string) ([]Family, error)
	// LookupRefresh returns the family if tokenHash is its current token and
	// it is live at now, reading only (introspection and revocation must not
	// rotate or revoke). ErrFamilyRevoked if it is the current token of a
	// revoked family; ErrFamilyNotFound for anything else (no such family,
	// expired, tombstoned, or a token that is not the current one).
	LookupRefresh(ctx context.Context, familyID string, tokenHash []byte, now time.Time) (Family, error)
}

// Code is an authorization code as the store keeps it (under the SHA-256 of
// the code).
type Code struct {
	ClientID      string    `json:"client_id"`
	UserID        string    `json:"user_id"`
	RedirectURI   string    `json:"redirect_uri"`
	Scope         string    `json:"scope"`
	CodeChallenge string    `json:"code_challenge,omitempty"` // S256
	AuthTime      time.Time `json:"auth_time"`
	// Nonce is the OpenID Connect nonce of the authorization request,
	// echoed in the ID Token; empty when none was sent.
	Nonce string `json:"nonce,omitempty"`
	// SessionID is the sid of the browser session that approved the code,
	// for the ID Token; empty for sessions from before sid.
	SessionID string `json:"sid,omitempty"`
	// Resources are the RFC 8707 resources of the authorization request;
	// the exchange may narrow to some of them.
	Resources []string  `json:"resources,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// FamilyID is chosen when the code is made: the refresh-token family its
	// redemption starts, so a replay can revoke it.
	FamilyID string `json:"family_id"`
	// UserGeneration and ClientGeneration are the generations of the user
	// (its session's) and client when the code was made; redemption after
	// either moved on fails (see Revoker).
	UserGeneration   int64 `json:"user_generation,omitempty"`
	ClientGeneration int64 `json:"client_generation,omitempty"`
	// DPoPJKT is the dpop_jkt of the authorization request (RFC 9449 §10):
	// the exchange must prove that key. Empty when none was sent.
	DPoPJKT string `json:"dpop_jkt,omitempty"`
}

// Code store errors.
var (
	ErrCodeNotFound = errors.New("authorization code not found or expired")
	// ErrCodeReused: the code was redeemed before; RedeemCode returns the
	// Code with it so the caller can revoke what the first redemption issued.
	ErrCodeReused = errors.New("authorization code already redeemed")
)

// CodeStore keeps authorization codes.
type CodeStore interface {
	// SaveCode stores c under hash until c.ExpiresAt.
	SaveCode(ctx context.Context, hash []byte, c Code) error
	// RedeemCode marks the code used in one atomic step and returns it. A
	// second redemption returns the code and ErrCodeReused; an unknown or
	// expired code ErrCodeNotFound. A used code is remembered until it
	// would have expired.
	RedeemCode(ctx context.Context, hash []byte, now time.Time) (Code, error)
}

// DenyList holds the jti of revoked access tokens until they expire.
type DenyList interface {
	// DenyJTI denies jti until until.
	DenyJTI(ctx context.Context, jti string, until time.Time) error
	// IsDenied reports whether jti is denied.
	IsDenied(ctx context.Context, jti string) (bool, error)
}
