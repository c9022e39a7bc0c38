// Package users keeps resource owners: usernames, argon2id password hashes,
// and the rules for creating them and checking their passwords.
package users

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"authserver/cache"
)

// ErrInvalidCredentials is the one answer to a failed sign-in, whether the
// user is unknown, the password wrong or the user disabled, so the answer
// reveals nothing about which accounts exist.
var ErrInvalidCredentials = errors.New("invalid username or password")

// ValidationError is a rejected input; Field names it ("username",
// "password") and Reason says what is wrong, fit to show to an admin.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return "users: invalid " + e.Field + ": " + e.Reason
}

const (
	maxUsernameLen    = 64
	minPasswordRunes  = 8
	maxPasswordBytes  = 1024
	usernameSpecials  = "._@-"
	usernameCharsText = "letters, digits and . _ @ -"
)

// Service applies the user rules on top of a Store.
type Service struct {
	store  Store
	hasher Hasher
	derive deriveFunc
	now    func() time.Time
	// dummy is a hash with the service's parameters that unknown usernames
	// are checked against, so they cost what a wrong password costs.
	dummy    string
	dummyErr error
	// states, when set, answers Current (see Cached).
	states *cache.Cache[User]
	// checks counts the passwords Authenticate has hashed.
	checks atomic.Int64
}

// NewService returns a Service hashing new passwords with h. Invalid hasher
// parameters surface as an error from the first call that needs a hash.
func NewService(store Store, h Hasher) *Service {
	s := &Service{store: store, hasher: h, derive: oneHashPerCore(argon2.IDKey), now: time.Now}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		s.dummyErr = err
		return s
	}
	s.dummy, s.dummyErr = h.hash(s.derive, string(secret))
	return s
}

// NormalizeUsername checks a username and returns the form it is stored
// and looked up under: lower case, so names are unique case-insensitively.
// Only ASCII is allowed, which keeps look-alike and case-folding surprises
// out of account names.
func NormalizeUsername(username string) (string, error) {
	if username == "" {
		return "", &ValidationError{"username", "must not be empty"}
	}
	if len(username) > maxUsernameLen {
		return "", &ValidationError{"username", fmt.Sprintf("must be at most %d characters", maxUsernameLen)}
	}
	for i := 0; i < len(username); i++ {
		c := username[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(usernameSpecials, c) >= 0) {
			return "", &ValidationError{"username", "may contain only " + usernameCharsText}
		}
	}
	return strings.ToLower(username), nil
}

// ValidatePassword checks the password rules: at least 8 characters, at
// most 1024 bytes (which bounds hashing work), valid UTF-8.
func ValidatePassword(password string) error {
	switch {
	case !utf8.ValidString(password):
		return &ValidationError{"password", "must be valid UTF-8"}
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return &ValidationError{"password", fmt.Sprintf("must be at least %d characters", minPasswordRunes)}
	case len(password) > maxPasswordBytes:
		return &ValidationError{"password", fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)}
	}
	return nil
}

// Create adds a user; ErrExists (wrapped) if the name is taken in any case.
func (s *Service) Create(ctx context.Context, username, password string) (*User, error) {
	return s.CreateWithProfile(ctx, username, password, Profile{})
}

// CreateWithProfile is Create with the user's profile claims set.
func (s *Service) CreateWithProfile(ctx context.Context, username, password string, p Profile) (*User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	p.normalize()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	hash, err := s.hasher.hash(s.derive, password)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &User{ID: id, Username: name, PasswordHash: hash, Profile: p, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("users: create %q: %w", name, err)
	}
	return u, nil
}

// Current returns the user with that ID as every node now sees it, for the
// checks made on every use of a session, code or refresh token: from the
// node's cache when there is one (see Cached), else from the store.
// Read-modify-write goes through the store, never the cache.
func (s *Service) Current(ctx context.Context, id string) (*User, error) {
	if s.states == nil {
		return s.store.GetUser(ctx, id)
	}
	u, err := s.states.Get(ctx, id, func(ctx context.Context, id string) (User, error) {
		u, err := s.store.GetUser(ctx, id)
		if err != nil {
			return User{}, err
		}
		return *u, nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Cached makes Current answer from c, which every write of this Service
// invalidates and announces. It returns s.
func (s *Service) Cached(c *cache.Cache[User]) *Service {
	s.states = c
	return s
}

// written follows a write of user id: the cache entry is dropped on every
// node. It returns err.
func (s *Service) written(ctx context.Context, id string, err error) error {
	if s.states == nil {
		return err
	}
	return s.states.Written(ctx, id, err)
}

// Get returns the user with that ID, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*User, error) {
	return s.store.GetUser(ctx, id)
}

// GetByUsername returns the user with that username (compared in its
// normalized form), or ErrNotFound; a name that could never be valid is
// ErrNotFound too.
func (s *Service) GetByUsername(ctx context.Context, username string) (*User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.store.GetUserByUsername(ctx, name)
}

// List returns every user, ordered by username.
func (s *Service) List(ctx context.Context) ([]*User, error) {
	return s.store.ListUsers(ctx)
}

// Delete removes a user; ErrNotFound if there is none.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.written(ctx, id, s.store.DeleteUser(ctx, id))
}

// SetPassword replaces a user's password.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	hash, err := s.hasher.hash(s.derive, password)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	u.UpdatedAt = s.now().UTC()
	return s.written(ctx, id, s.store.UpdateUser(ctx, u))
}

// SetDisabled disables or re-enables a user; a disabled user cannot sign in.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	if u.Disabled == disabled {
		return nil
	}
	u.Disabled = disabled
	u.UpdatedAt = s.now().UTC()
	return s.written(ctx, id, s.store.UpdateUser(ctx, u))
}

// EndUserGeneration moves the user's generation on, which ends every
// session, code, consent and refresh family made under the earlier one
// (tokens.Revoker owns the rule; call it, not this). No such user: nil.
func (s *Service) EndUserGeneration(ctx context.Context, id string) error {
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	u.Generation++
	u.UpdatedAt = s.now().UTC()
	u.GenerationStartedAt = u.UpdatedAt
	err = s.written(ctx, id, s.store.UpdateUser(ctx, u))
	if errors.Is(err, ErrNotFound) {
		return nil // deleted meanwhile
	}
	return err
}

// Authenticate returns the user whose name and password match, or
// ErrInvalidCredentials. Every path that ends in ErrInvalidCredentials runs
// exactly one argon2 computation with the same parameters, so timing does
// not tell an unknown or disabled user from a wrong password. Other errors
// (store unavailable, an unreadable stored hash) are the server's fault and
// are returned as they are.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	if s.dummyErr != nil {
		return nil, fmt.Errorf("users: %w", s.dummyErr)
	}
	name, err := NormalizeUsername(username)
	if err != nil {
		s.burn(password)
		return nil, ErrInvalidCredentials
	}
	u, err := s.store.GetUserByUsername(ctx, name)
	if errors.Is(err, ErrNotFound) {
		s.burn(password)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("users: look up user: %w", err)
	}
	s.checks.Add(1)
	ok, err := verify(s.derive, u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("users: stored password hash of user %s: %w", u.ID, err)
	}
	// The password is checked before Disabled so a disabled account costs
	// the same as any other failure.
	if !ok || u.Disabled {
		return nil, ErrInvalidCredentials
	}
	return u, nil
}

// PasswordChecks is how many passwords Authenticate has checked (one
// argon2 computation each) since the service started: what the failure
// limits bound.
func (s *Service) PasswordChecks() int64 { return s.checks.Load() }

// oneHashPerCore lets at most GOMAXPROCS argon2 computations run at once.
// Each takes memory_kib of memory: 32 concurrent sign-ins at the default
// 19 MiB would hold 600 MiB, while hashing is CPU-bound and gains nothing
// from more than one computation per core.
func oneHashPerCore(derive deriveFunc) deriveFunc {
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	return func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		slots <- struct{}{}
		defer func() { <-slots }()
		return derive(password, salt, time, memory, threads, keyLen)
	}
}

// burn does the work of a password check against the dummy hash.
func (s *Service) burn(password string) {
	s.checks.Add(1)
	_, _ = verify(s.derive, s.dummy, password)
}

// newID returns 128 random bits, base64url.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil // hex: an id never starts with '-' and so never reads as a CLI flag
}
