package users

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// memStore is an in-memory Store. It compares usernames exactly, so any
// case-insensitivity the tests see comes from the Service.
type memStore struct {
	mu      sync.Mutex
	byID    map[string]*User
	failGet error
}

func newMemStore() *memStore { return &memStore{byID: map[string]*User{}} }

func (s *memStore) CreateUser(_ context.Context, u *User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.byID {
		if e.ID == u.ID || e.Username == u.Username {
			return ErrExists
		}
	}
	cp := *u
	s.byID[u.ID] = &cp
	return nil
}

func (s *memStore) GetUser(_ context.Context, id string) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return nil, ErrNotFound
	}
	cp := *u
	return &cp, nil
}

func (s *memStore) GetUserByUsername(_ context.Context, name string) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGet != nil {
		return nil, s.failGet
	}
	for _, u := range s.byID {
		if u.Username == name {
			cp := *u
			return &cp, nil
		}
	}
	return nil, ErrNotFound
}

func (s *memStore) UpdateUser(_ context.Context, u *User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[u.ID]
	if !ok {
		return ErrNotFound
	}
	if e.Username != u.Username {
		return errors.New("username changed")
	}
	cp := *u
	s.byID[u.ID] = &cp
	return nil
}

func (s *memStore) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; !ok {
		return ErrNotFound
	}
	delete(s.byID, id)
	return nil
}

func (s *memStore) ListUsers(context.Context) ([]*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*User
	for _, u := range s.byID {
		cp := *u
		out = append(out, &cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// derivation records one argon2 computation.
type derivation struct {
	time, memory uint32
	threads      uint8
}

// countingService returns a Service whose argon2 computations are recorded.
func countingService(t *testing.T, store Store) (*Service, func() []derivation) {
	t.Helper()
	s := NewService(store, fast)
	var mu sync.Mutex
	var calls []derivation
	s.derive = func(pw, salt []byte, tm, mem uint32, th uint8, n uint32) []byte {
		mu.Lock()
		calls = append(calls, derivation{tm, mem, th})
		mu.Unlock()
		return argon2.IDKey(pw, salt, tm, mem, th, n)
	}
	take := func() []derivation {
		mu.Lock()
		defer mu.Unlock()
		c := calls
		calls = nil
		return c
	}
	return s, take
}

func mustCreate(t *testing.T, s *Service, name, pw string) *User {
	t.Helper()
	u, err := s.Create(context.Background(), name, pw)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return u
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	alice := mustCreate(t, s, "Alice", "wonderland")
	got, err := s.Authenticate(ctx, "alice", "wonderland")
	if err != nil || got.ID != alice.ID {
		t.Fatalf("Authenticate = %v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, "ALICE", "wonderland"); err != nil {
		t.Errorf("upper-case sign-in: %v", err)
	}
	for _, c := range []struct{ user, pw string }{
		{"alice", "Wonderland"},
		{"alice", ""},
		{"bob", "wonderland"},
		{"", "wonderland"},
		{"not a valid name", "wonderland"},
		{strings.Repeat("a", 65), "wonderland"},
	} {
		u, err := s.Authenticate(ctx, c.user, c.pw)
		if err != ErrInvalidCredentials || u != nil {
			t.Errorf("Authenticate(%q, %q) = %v, %v; want nil, ErrInvalidCredentials", c.user, c.pw, u, err)
		}
	}
}

// Every failure path does one argon2 computation with the service's cost,
// so an unknown or disabled user takes as long as a wrong password.
func TestFailuresCostOneHashEach(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	s, take := countingService(t, store)
	mustCreate(t, s, "carol", "password-1")
	if err := s.SetDisabled(ctx, mustCreate(t, s, "dave", "password-2").ID, true); err != nil {
		t.Fatal(err)
	}
	take()
	want := derivation{fast.Time, fast.MemoryKiB, fast.Threads}
	for _, c := range []struct {
		name, user, pw string
	}{
		{"wrong password", "carol", "password-x"},
		{"unknown user", "nobody", "password-1"},
		{"invalid username", "no such user!", "password-1"},
		{"disabled user, right password", "dave", "password-2"},
		{"right password", "carol", "password-1"},
	} {
		before := s.PasswordChecks()
		_, err := s.Authenticate(ctx, c.user, c.pw)
		calls := take()
		if len(calls) != 1 || calls[0] != want {
			t.Errorf("%s: argon2 ran %d times with %+v; want once with %+v", c.name, len(calls), calls, want)
		}
		if n := s.PasswordChecks() - before; n != 1 {
			t.Errorf("%s: PasswordChecks went up by %d, want 1", c.name, n)
		}
		success := c.name == "right password"
		if success != (err == nil) {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if !success && err != ErrInvalidCredentials {
			t.Errorf("%s: err = %v, want ErrInvalidCredentials", c.name, err)
		}
	}
}

// A user hashed with other parameters must not be told apart from an
// unknown user by cost: the dummy follows the service's parameters, which is
// the cost every newly set password has.
func TestDummyHashUsesServiceParameters(t *testing.T) {
	h := Hasher{Time: 3, MemoryKiB: 96, Threads: 2}
	s := NewService(newMemStore(), h)
	p, _, _, err := parsePHC(s.dummy)
	if err != nil {
		t.Fatal(err)
	}
	if p != h {
		t.Errorf("dummy hash parameters %+v, want %+v", p, h)
	}
}

func TestCaseInsensitiveUniqueness(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	u := mustCreate(t, s, "Erin.Smith@Example.com", "password-1")
	if u.Username != "erin.smith@example.com" {
		t.Errorf("stored username = %q, want the lower-case form", u.Username)
	}
	for _, name := range []string{"erin.smith@example.com", "ERIN.SMITH@EXAMPLE.COM", "Erin.Smith@Example.com"} {
		if _, err := s.Create(ctx, name, "password-2"); !errors.Is(err, ErrExists) {
			t.Errorf("Create(%q) err = %v, want ErrExists", name, err)
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d users, %v", len(list), err)
	}
}

func TestCreateValidation(t *testing.T) {
	s := NewService(newMemStore(), fast)
	long := strings.Repeat("x", 64)
	for _, c := range []struct {
		user, pw string
		field    string // "" means accepted
	}{
		{"a", "12345678", ""},
		{long, "12345678", ""},
		{"A.b_c-d@e9", "12345678", ""},
		{"", "12345678", "username"},
		{long + "x", "12345678", "username"},
		{"with space", "12345678", "username"},
		{"tab\t", "12345678", "username"},
		{"ünïcode", "12345678", "username"},
		{"slash/", "12345678", "username"},
		{"plus+", "12345678", "username"},
		{"short", "1234567", "password"},
		{"runes", "ééééééé", "password"}, // 7 characters, 14 bytes
		{"runes8", "éééééééé", ""},       // 8 characters
		{"big", strings.Repeat("p", 1024), ""},
		{"toobig", strings.Repeat("p", 1025), "password"},
		{"utf8", "abcdefg\xff", "password"},
	} {
		_, err := s.Create(context.Background(), c.user, c.pw)
		if c.field == "" {
			if err != nil {
				t.Errorf("Create(%q, len %d): %v", c.user, len(c.pw), err)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field || ve.Reason == "" {
			t.Errorf("Create(%q, len %d) err = %v, want a ValidationError on %s", c.user, len(c.pw), err, c.field)
		}
	}
}

func TestIDsAreRandomAndURLSafe(t *testing.T) {
	s := NewService(newMemStore(), fast)
	a := mustCreate(t, s, "one", "password-1")
	b := mustCreate(t, s, "two", "password-1")
	if a.ID == b.ID || len(a.ID) < 22 || strings.ContainsAny(a.ID+b.ID, "+/=") {
		t.Errorf("IDs %q, %q are not distinct url-safe random strings", a.ID, b.ID)
	}
	if a.PasswordHash == b.PasswordHash {
		t.Error("equal passwords gave equal hashes")
	}
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	u := mustCreate(t, s, "frank", "old-password")
	clock = clock.Add(time.Hour)
	if err := s.SetPassword(ctx, u.ID, "new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "frank", "old-password"); err != ErrInvalidCredentials {
		t.Errorf("old password: err = %v", err)
	}
	got, err := s.Authenticate(ctx, "frank", "new-password")
	if err != nil {
		t.Fatalf("new password: %v", err)
	}
	if !got.UpdatedAt.Equal(clock) || !got.CreatedAt.Equal(clock.Add(-time.Hour)) {
		t.Errorf("times = created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}
	var ve *ValidationError
	if err := s.SetPassword(ctx, u.ID, "short"); !errors.As(err, &ve) {
		t.Errorf("short password: err = %v", err)
	}
	if err := s.SetPassword(ctx, "missing", "long-enough"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: err = %v", err)
	}
}

func TestSetDisabled(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	u := mustCreate(t, s, "grace", "password-1")
	if err := s.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, u.ID); !got.Disabled {
		t.Error("user not stored as disabled")
	}
	if _, err := s.Authenticate(ctx, "grace", "password-1"); err != ErrInvalidCredentials {
		t.Errorf("disabled sign-in err = %v", err)
	}
	if err := s.SetDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "grace", "password-1"); err != nil {
		t.Errorf("re-enabled sign-in: %v", err)
	}
	if err := s.SetDisabled(ctx, "missing", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: err = %v", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := NewService(newMemStore(), fast)
	u := mustCreate(t, s, "heidi", "password-1")
	if err := s.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if _, err := s.Authenticate(ctx, "heidi", "password-1"); err != ErrInvalidCredentials {
		t.Errorf("deleted user signs in: %v", err)
	}
	if err := s.Delete(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	// The name is free again.
	mustCreate(t, s, "Heidi", "password-1")
}

func TestAuthenticateServerFaultsAreNotCredentialErrors(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	s := NewService(store, fast)
	u := mustCreate(t, s, "ivan", "password-1")

	store.failGet = errors.New("connection refused")
	if _, err := s.Authenticate(ctx, "ivan", "password-1"); err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("store failure: err = %v, want a server error", err)
	}
	store.failGet = nil

	store.byID[u.ID].PasswordHash = "$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := s.Authenticate(ctx, "ivan", "password-1"); err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("corrupt stored hash: err = %v, want a server error", err)
	}
}

func TestInvalidHasherSurfaces(t *testing.T) {
	s := NewService(newMemStore(), Hasher{})
	if _, err := s.Create(context.Background(), "judy", "password-1"); err == nil {
		t.Error("Create with a zero Hasher succeeded")
	}
	if _, err := s.Authenticate(context.Background(), "judy", "password-1"); err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Authenticate with a zero Hasher: err = %v", err)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	_, err := NormalizeUsername("bad name")
	if err == nil || !strings.Contains(err.Error(), "username") {
		t.Fatalf("err = %v", err)
	}
}
