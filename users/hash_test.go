package users

import (
	"regexp"
	"strings"
	"testing"
)

// fast keeps tests quick; production parameters come from config.
var fast = Hasher{Time: 1, MemoryKiB: 64, Threads: 1}

func TestHashVerifyRoundTrip(t *testing.T) {
	enc, err := fast.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(enc) {
		t.Fatalf("hash %q is not a PHC argon2id string with a 16-byte salt and 32-byte key", enc)
	}
	ok, err := Verify(enc, "correct horse battery")
	if err != nil || !ok {
		t.Fatalf("Verify(right) = %v, %v", ok, err)
	}
	ok, err = Verify(enc, "correct horse batterY")
	if err != nil || ok {
		t.Fatalf("Verify(wrong) = %v, %v", ok, err)
	}
	again, err := fast.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if again == enc {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

// The reference implementation's argon2id test vector (phc-winner-argon2
// test.c: password "password", salt "somesalt", t=2, m=64 MiB, p=1, tag
// 09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7).
func TestVerifyReferenceVector(t *testing.T) {
	const enc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	ok, err := Verify(enc, "password")
	if err != nil || !ok {
		t.Fatalf("Verify(reference) = %v, %v", ok, err)
	}
}

func TestVerifyUsesParametersFromTheString(t *testing.T) {
	enc, err := Hasher{Time: 2, MemoryKiB: 128, Threads: 2}.Hash("pw-with-other-cost")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(enc, "$m=128,t=2,p=2$") {
		t.Fatalf("hash %q does not record its parameters", enc)
	}
	if ok, err := Verify(enc, "pw-with-other-cost"); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func tamperedHashes(t *testing.T) []string {
	good, err := fast.Hash("password1")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	return []string{
		"",
		"$",
		"plaintext",
		good + "$",
		good[1:],
		strings.TrimSuffix(good, parts[5]),
		with(1, "argon2i"),
		with(1, "argon2d"),
		with(2, "v=16"),
		with(2, "v="),
		with(3, "m=64,t=1"),
		with(3, "t=1,m=64,p=1"),
		with(3, "m=64,t=1,p=1,x=2"),
		with(3, "m=0,t=1,p=1"),
		with(3, "m=64,t=0,p=1"),
		with(3, "m=64,t=1,p=0"),
		with(3, "m=64,t=1,p=256"),
		with(3, "m=64,t=1,p=9"),         // under 8 KiB per lane
		with(3, "m=4294967295,t=1,p=1"), // would allocate 4 TiB
		with(3, "m=99999999999999999999,t=1,p=1"), // overflows uint32
		with(3, "m=-64,t=1,p=1"),
		with(3, "m=+64,t=1,p=1"),
		with(3, "m=64,t=x,p=1"),
		with(4, ""),
		with(4, "c2FsdA"), // 4-byte salt
		with(4, "!!!!"),
		with(4, parts[4]+"="), // padded
		with(5, ""),
		with(5, "c2hvcnQ"),                      // 5-byte key
		with(5, parts[5][:len(parts[5])-1]+"B"), // non-canonical last character
	}
}

func TestVerifyTamperedNeverPanics(t *testing.T) {
	for _, enc := range tamperedHashes(t) {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Verify(%q) panicked: %v", enc, r)
				}
			}()
			ok, err := Verify(enc, "password1")
			if ok || err == nil {
				t.Errorf("Verify(%q) = %v, %v; want false and an error", enc, ok, err)
			}
		}()
	}
}

func FuzzVerify(f *testing.F) {
	good, err := fast.Hash("password1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "password1")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		ok, err := Verify(enc, pw)
		if ok && err != nil {
			t.Fatal("ok with error")
		}
	})
}

func TestHashRejectsBadParameters(t *testing.T) {
	for _, h := range []Hasher{
		{},
		{Time: 0, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 0},
		{Time: 1, MemoryKiB: 15, Threads: 2},
		{Time: 1, MemoryKiB: 5 << 20, Threads: 1},
	} {
		if _, err := h.Hash("password1"); err == nil {
			t.Errorf("Hasher%+v.Hash succeeded", h)
		}
	}
}
