package embedded

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"authserver/clients"
	"authserver/tokens"
)

// crashEnv names the database file the helper process writes to; the helper
// test does nothing without it.
const crashEnv = "AUTHSERVER_EMBEDDED_CRASH_DB"

const crashFamily = "crash-family"

func crashToken(gen int64) []byte { return sum(fmt.Sprintf("token-%d", gen)) }

// TestHelperWriter is the child side of TestKillNine: it writes in a loop and
// prints one line for each write after Update has returned, i.e. after the
// commit was fsynced. It stops on its own after a while in case the parent
// never kills it.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestKillNine")
	}
	ctx := t.Context()
	s, err := Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	now := time.Now()
	err = s.CreateFamily(ctx, tokens.Family{ID: crashFamily, ClientID: "crash", UserID: "u",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour)}, crashToken(0))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	stop := time.Now().Add(30 * time.Second)
	for i := int64(0); time.Now().Before(stop); i++ {
		if err := s.CreateClient(ctx, &clients.Client{ID: fmt.Sprintf("client-%d", i)}); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("client", i)
		f, _, err := s.RotateRefresh(ctx, tokens.Rotation{FamilyID: crashFamily, ClientID: "crash",
			Presented: crashToken(i), Generation: int64(i), Next: crashToken(i + 1), NextJTI: fmt.Sprint(i + 1),
			Now: time.Now(), Idle: time.Hour})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("rotated", f.Generation)
	}
	os.Exit(3) // never killed: the parent has failed already
}

// TestKillNine kills a writing process with SIGKILL and checks that every
// write it acknowledged before dying is in the file.
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "authserver.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	const wantAcks = 300
	var (
		maxClient  int64 = -1
		maxGen     int64 = -1
		acks       int
		timeout    = time.After(60 * time.Second)
		sentSignal bool
	)
	record := func(line string) {
		var n int64
		switch {
		case scan(line, "client %d", &n):
			if n != maxClient+1 {
				t.Fatalf("acks out of order: client %d after %d", n, maxClient)
			}
			maxClient = n
		case scan(line, "rotated %d", &n):
			maxGen = n
		default:
			t.Fatalf("child: %s", line)
		}
		acks++
	}
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
				break
			}
			record(line)
			if acks >= wantAcks && !sentSignal {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				// Keep reading: lines already in the pipe were acknowledged too.
				sentSignal = true
			}
		case <-timeout:
			t.Fatalf("timed out after %d acknowledgements", acks)
		}
	}
	if !sentSignal {
		t.Fatalf("child exited after %d acknowledgements without being killed", acks)
	}
	err = cmd.Wait()
	killed = true
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	for i := range maxClient + 1 {
		if _, err := s.GetClient(ctx, fmt.Sprintf("client-%d", i)); err != nil {
			t.Fatalf("acknowledged client %d of %d lost: %v", i, maxClient, err)
		}
	}
	f, err := s.GetFamily(ctx, crashFamily)
	if err != nil {
		t.Fatalf("family lost: %v", err)
	}
	// The last rotation may have committed without its line being printed.
	if f.Generation < maxGen || f.Generation > maxGen+1 {
		t.Fatalf("family at generation %d, last acknowledged %d", f.Generation, maxGen)
	}
	// Generation and current token moved together: the token of the stored
	// generation is the one that rotates.
	_, _, err = s.RotateRefresh(ctx, tokens.Rotation{FamilyID: crashFamily, ClientID: "crash",
		Presented: crashToken(f.Generation), Generation: f.Generation, Next: sum("after"), Now: time.Now(), Idle: time.Hour})
	if err != nil {
		t.Fatalf("rotating generation %d after the crash: %v", f.Generation, err)
	}
	t.Logf("%d acknowledged writes (clients 0..%d, generation %d) survived SIGKILL", acks, maxClient, maxGen)
}

func scan(line, format string, n *int64) bool {
	_, err := fmt.Sscanf(line, format, n)
	return err == nil
}
