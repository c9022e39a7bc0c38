package reliability

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// figures are one test's measurements, as docs/RELIABILITY.md shows them.
type figures struct {
	test        string
	requests    int
	statuses    string        // counts by status
	maxLatency  time.Duration // slowest request
	recovery    time.Duration // heal to first successful refresh; -1: none
	chains      int
	alive       int // chains that refresh after the fault
	ackedLost   int // acknowledged rotations the store lost; -1: not measured
	counters        // the node's refresh outcomes
	transportOK bool
}

func (f figures) row() string {
	lost := "n/a"
	if f.ackedLost >= 0 {
		lost = fmt.Sprint(f.ackedLost)
	}
	rec := "none"
	if f.recovery >= 0 {
		rec = f.recovery.Round(10 * time.Millisecond).String()
	}
	return fmt.Sprintf("| %s | %d |%s | %v | %s | %d/%d | %s | %d | %d | %d |", f.test, f.requests, f.statuses,
		f.maxLatency.Round(10*time.Millisecond), rec, f.alive, f.chains, lost, f.retried, f.recovered, f.reuse)
}

var (
	reportMu sync.Mutex
	report   []string
)

// keep adds f to the table printed at the end with RELIABILITY_REPORT=1.
func keep(t *testing.T, f figures) {
	t.Helper()
	t.Log(f.row())
	reportMu.Lock()
	defer reportMu.Unlock()
	report = append(report, f.row())
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // no route table printed for every node
	code := m.Run()
	if os.Getenv("RELIABILITY_REPORT") == "1" {
		slices.Sort(report)
		fmt.Println("| test | requests | by status | max latency | recovery after heal | chains alive | acked rotations lost | retries answered again | families recovered | families revoked (reuse) |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
		fmt.Println(strings.Join(report, "\n"))
	}
	os.Exit(code)
}
