package registration

import (
	"context"
	"errors"
	"time"
)

// InitialAccessToken is what the store keeps about one initial access token
// (RFC 7591 §3): only its limits, under the SHA-256 of the token.
type InitialAccessToken struct {
	ExpiresAt time.Time `json:"expires_at"`
	UsesLeft  int64     `json:"uses_left"`
}

// Initial access token store errors.
var (
	// ErrTokenInvalid covers an unknown, expired and used-up token alike.
	ErrTokenInvalid = errors.New("initial access token invalid, expired or used up")
	// ErrTokenExists: CreateInitialAccessToken found the hash taken.
	ErrTokenExists = errors.New("initial access token already exists")
)

// TokenStore keeps initial access tokens by the SHA-256 of the token.
type TokenStore interface {
	// CreateInitialAccessToken stores t under hash; ErrTokenExists if the
	// hash is taken. t.UsesLeft must be at least 1.
	CreateInitialAccessToken(ctx context.Context, hash []byte, t InitialAccessToken) error
	// LookupInitialAccessToken returns the token without spending a use;
	// ErrTokenInvalid if there is none, it has expired at now, or no use is
	// left.
	LookupInitialAccessToken(ctx context.Context, hash []byte, now time.Time) (InitialAccessToken, error)
	// UseInitialAccessToken spends one use in one atomic step and returns
	// the uses left; ErrTokenInvalid as for Lookup. Of concurrent callers
	// exactly as many succeed as the token had uses; the last use removes
	// the token.
	UseInitialAccessToken(ctx context.Context, hash []byte, now time.Time) (int64, error)
}
