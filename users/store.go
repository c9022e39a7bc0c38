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
	Generation int64     `json:"generation,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
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
