package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Hasher makes argon2id password hashes with fixed cost parameters.
type Hasher struct {
	Time      uint32 // iterations
	MemoryKiB uint32
	Threads   uint8
}

const (
	saltLen = 16
	keyLen  = 32
	// maxMemoryKiB bounds the memory a stored hash may demand (4 GiB, the
	// same bound config enforces), so a tampered hash cannot exhaust memory.
	maxMemoryKiB = 4 << 20
)

// deriveFunc has the signature of argon2.IDKey; Service swaps it in tests to
// observe when the expensive computation runs.
type deriveFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// phcEncoding is the PHC string encoding: standard alphabet, no padding.
// Strict rejects non-canonical encodings, so one hash has one spelling.
func phcEncoding() *base64.Encoding { return base64.RawStdEncoding.Strict() }

// Hash returns password's argon2id hash in PHC string form:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<threads>$<salt>$<hash>.
func (h Hasher) Hash(password string) (string, error) {
	return h.hash(argon2.IDKey, password)
}

func (h Hasher) hash(derive deriveFunc, password string) (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := derive([]byte(password), salt, h.Time, h.MemoryKiB, h.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.MemoryKiB, h.Time, h.Threads, phcEncoding().EncodeToString(salt), phcEncoding().EncodeToString(key)), nil
}

func (h Hasher) validate() error {
	switch {
	case h.Time < 1:
		return errors.New("users: argon2 time must be at least 1")
	case h.Threads < 1:
		return errors.New("users: argon2 threads must be at least 1")
	case h.MemoryKiB < 8*uint32(h.Threads):
		return errors.New("users: argon2 memory must be at least 8 KiB per thread")
	case h.MemoryKiB > maxMemoryKiB:
		return errors.New("users: argon2 memory must be at most 4 GiB")
	}
	return nil
}

// Verify reports whether password matches the PHC-encoded argon2id hash,
// using the parameters recorded in it. A malformed hash is an error.
func Verify(encoded, password string) (bool, error) {
	return verify(argon2.IDKey, encoded, password)
}

func verify(derive deriveFunc, encoded, password string) (bool, error) {
	h, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := derive([]byte(password), salt, h.Time, h.MemoryKiB, h.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parsePHC reads an argon2id PHC string strictly; every bound is checked
// before any of it reaches argon2, which panics on some bad parameters.
func parsePHC(encoded string) (h Hasher, salt, key []byte, err error) {
	bad := func(why string) (Hasher, []byte, []byte, error) {
		return Hasher{}, nil, nil, fmt.Errorf("users: malformed password hash: %s", why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=..$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return bad("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return bad("want m, t and p parameters")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(params[i], "=")
		if !ok || k != name {
			return bad("want parameters in the order m, t, p")
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, perr := strconv.ParseUint(v, 10, bits)
		if perr != nil {
			return bad("parameter " + name + " out of range")
		}
		vals[i] = n
	}
	h = Hasher{MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if err := h.validate(); err != nil {
		return bad(err.Error())
	}
	if salt, err = phcEncoding().DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return bad("salt must be 8 to 64 bytes of base64")
	}
	if key, err = phcEncoding().DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return bad("hash must be 16 to 64 bytes of base64")
	}
	return h, salt, key, nil
}
