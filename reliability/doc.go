// Package reliability holds the fault-injection tests behind
// docs/RELIABILITY.md: a node under refresh and client_credentials load
// while its store is killed, fails over, or sits behind a faulty network,
// and the server itself killed with SIGKILL. Each test asserts what an
// operator relies on: no request hangs, every failure is a 503 with
// Retry-After, the node recovers once the fault heals, and no refresh-token
// family dies of the fault (a lost answer or a lost rotation must not read
// as reuse).
//
// The package has tests only. RELIABILITY_REPORT=1 prints every test's
// figures as the table in docs/RELIABILITY.md.
package reliability
