package sessions

import (
	"context"
	"errors"
	"time"
)

// Session is a signed-in browser session, kept under the SHA-256 of its
// cookie value.
type Session struct {
	// ID is the session's sid (OpenID Connect Back-Channel Logout 1.0 §2.1):
	// random and apart from the cookie, so a relying party that holds it
	// holds nothing that signs anyone in. Sessions from before sid have none.
	ID        string    `json:"sid,omitempty"`
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
	// UserGeneration is the user's generation at sign-in: once the user is
	// revoked the session is dead.
	UserGeneration int64 `json:"user_generation,omitempty"`
}

// Consent is a user's remembered approval of scopes for one client.
type Consent struct {
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
	// UserGeneration and ClientGeneration are those of the user and client
	// when consent was given: revoking either forgets it.
	UserGeneration   int64 `json:"user_generation,omitempty"`
	ClientGeneration int64 `json:"client_generation,omitempty"`
}

// Current reports whether the consent still stands for the user and client
// as they are now.
func (c Consent) Current(userGeneration, clientGeneration int64) bool {
	return c.UserGeneration == userGeneration && c.ClientGeneration == clientGeneration
}

// SessionClient records that a session signed its user in to a client
// that listens for back-channel logout: who to tell, with which sid, when
// the session ends.
type SessionClient struct {
	SessionID string    `json:"sid"`
	ClientID  string    `json:"client_id"`
	ExpiresAt time.Time `json:"expires_at"` // the session's end
}

// MaxSessionClients bounds the records kept per user; adding one more
// drops the one that ends first.
const MaxSessionClients = 256

// ErrNotFound is returned for a missing or expired session or consent.
var ErrNotFound = errors.New("not found")

// Store keeps browser sessions and remembered consents.
type Store interface {
	// SaveSession stores s under hash until s.ExpiresAt.
	SaveSession(ctx context.Context, hash []byte, s Session) error
	// GetSession returns the session or ErrNotFound.
	GetSession(ctx context.Context, hash []byte) (Session, error)
	// DeleteSession removes the session (no error if absent).
	DeleteSession(ctx context.Context, hash []byte) error
	// SaveConsent stores (replaces) the user's consent for the client.
	SaveConsent(ctx context.Context, c Consent) error
	// GetConsent returns the consent or ErrNotFound.
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	// DeleteConsent removes it (no error if absent).
	DeleteConsent(ctx context.Context, userID, clientID string) error
	// AddSessionClient records (or extends) that the user's session
	// sc.SessionID signed in to sc.ClientID, until sc.ExpiresAt; at most
	// MaxSessionClients per user.
	AddSessionClient(ctx context.Context, userID string, sc SessionClient) error
	// SessionClients lists the user's records that have not expired.
	SessionClients(ctx context.Context, userID string) ([]SessionClient, error)
	// DeleteSessionClients forgets exactly the records scs of the user (no
	// error for one that is gone), so a record added since they were listed
	// (a new sign-in) stays.
	DeleteSessionClients(ctx context.Context, userID string, scs []SessionClient) error
}
