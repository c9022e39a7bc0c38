package users

import (
	"context"
	"errors"
	"time"
)

// User is a resource owner who signs in with a username and password.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	// PasswordHash is an argon2id hash in PHC string form.
	PasswordHash string `json:"password_hash"`
	Disabled     bool   `json:"disabled,omitempty"`
	// Generation moves on whenever the user is revoked (signed out
	// everywhere, a new password, disabled): sessions, codes, consents and
	// refresh families made under an earlier one are dead.
	Generation int64 `json:"generation,omitempty"`
	// GenerationStartedAt is when Generation last moved on; zero if never.
	// Access tokens carry no generation, so their iat is compared to it.
	GenerationStartedAt time.Time `json:"generation_started_at,omitzero"`
	// Profile holds the OpenID Connect claims; records written before it
	// existed load with none set.
	Profile   Profile   `json:"profile,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt moves on with every change; it is the updated_at claim.
	UpdatedAt time.Time `json:"updated_at"`
}

// IssuedInEarlierGeneration reports whether something issued at iat (a
// JWT's whole seconds) predates the user's current generation. A token
// issued in the very second of a revocation counts as current: refusing it
// would refuse a sign-in made just after; the Revoker's deny list covers
// the tokens of refresh families in that second.
func (u *User) IssuedInEarlierGeneration(iat time.Time) bool {
	return iat.Before(u.GenerationStartedAt.Truncate(time.Second))
}

// Store errors every backend returns.
var (
	ErrNotFound = errors.New("user not found")
	ErrExists   = errors.New("username already taken")
)

// Store keeps users. Usernames are unique; IDs never change.
type Store interface {
	// CreateUser stores u; ErrExists if its username (or ID) is taken.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user with that ID or ErrNotFound.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByUsername returns the user with that username or ErrNotFound.
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	// UpdateUser replaces an existing user (same ID and username); ErrNotFound if there is none.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user and frees the username; ErrNotFound if there is none.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns every user, ordered by username.
	ListUsers(ctx context.Context) ([]*User, error)
}
