package users

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many sign-ins at once never hold more than one argon2 computation (and
// its memory) per core.
func TestOneHashPerCore(t *testing.T) {
	var running, peak atomic.Int32
	slow := func(password, salt []byte, time_, memory uint32, threads uint8, keyLen uint32) []byte {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return make([]byte, keyLen)
	}
	derive := oneHashPerCore(slow)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() { derive(nil, nil, 1, 1, 1, 32) })
	}
	wg.Wait()
	if max := int(peak.Load()); max > runtime.GOMAXPROCS(0) || max < 1 {
		t.Fatalf("%d computations ran at once on %d cores", max, runtime.GOMAXPROCS(0))
	}
}
