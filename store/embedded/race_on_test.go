//go:build race

package embedded

// raceScale divides the record counts of the large janitor tests under the
// race detector, which makes bbolt about ten times slower: `go test -race`
// stays quick, and the plain run checks the full sizes.
const raceScale = 5
