//go:build !race

package embedded

// raceScale: see race_on_test.go.
const raceScale = 1
