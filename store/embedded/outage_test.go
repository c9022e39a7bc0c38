package embedded

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"authserver/clients"
	"authserver/store"
	"authserver/store/storetest"
)

// TestOutageClosed: a closed file answers every call as
// store.ErrUnavailable, not as a plain error that would become a 500.
func TestOutageClosed(t *testing.T) {
	s, _ := openTemp(t)
	s.Close()
	storetest.Outage(t, s)
}

// TestOutageDiskFull: a write that cannot grow the file on a full
// filesystem is store.ErrUnavailable. It needs a tiny tmpfs, so root and
// mount(8); without them it is skipped.
func TestOutageDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tiny tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	s, err := Open(filepath.Join(dir, "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Large records until the file cannot grow; bounded by the count.
	big := make([]string, 64)
	for i := range big {
		big[i] = "https://app.example/" + string(make([]byte, 1000))
	}
	for i := range 2000 {
		c := &clients.Client{ID: randomID(i), RedirectURIs: big}
		err = s.CreateClient(t.Context(), c)
		if err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("2000 writes of 64 KB fitted on a 256 KB filesystem")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write on a full disk: %v, want store.ErrUnavailable", err)
	}
}

func randomID(i int) string { return "full-" + strconv.Itoa(i) }
