// Package tokens defines the opaque tokens the server remembers (refresh
// tokens and authorization codes), how they are made and hashed, and the
// store contracts that keep them.
//
// # Refresh tokens
//
// A family's first refresh token is "<family id>.<secret>": 128 random bits
// naming its family and 256 random bits of secret, base64url. Each later
// one is its predecessor's successor, a MAC under a server key (see Chain):
// the same predecessor always has the same successor, and the token proves
// its generation. The store keeps only the SHA-256 of the current token,
// so a dump of the store yields nothing usable.
//
// A family is one sign-in on one device; a user may hold many. Its state:
//
//	current     hash of the one token that may be presented next
//	generation  of the current token, and when it was made (rotated at)
//	revoked     set once, never cleared
//
// Presenting token T (generation g) for family F by client C, with next =
// successor(T), in one atomic step:
//
//	F missing, idle-expired or past its absolute end  -> not found    (invalid_grant)
//	F owned by another client                         -> mismatch     (invalid_grant, F unchanged)
//	F revoked                                         -> revoked      (invalid_grant)
//	T = current                                       -> rotate: current = next
//	next = current, rotated within the grace window   -> retried: F unchanged, answer next again
//	g > F's generation                                -> recovered: current = next
//	anything else                                     -> reuse: F revoked (RFC 9700 §4.14.2)
//
// A retry is idempotent: a client whose answer was lost (a timeout, a
// restart, a failover) and that presents the token it still holds gets the
// same successor again, not a second one, so nothing it may yet receive is
// dead. Once the successor has been used, or the window (default 30 s) has
// passed, the old token is reuse again. "Recovered" is the store behind the
// client: a rotation answered and then lost by a failover of asynchronous
// replication; the client's token, of a later generation than the store
// knows, can only have been made by the server, so it is the head of the
// chain, never reuse.
//
// A rotation moves the idle deadline to min(now + idle, absolute end). The
// family's scope never changes: a refresh may ask for less scope for the new
// access token, never more (RFC 6749 §6).
//
// Introspection and revocation only look a token up (LookupRefresh): it
// counts only while it is the current token of a live family, and a lookup
// never rotates or revokes, so it is no reuse detector a guesser could
// trigger. Revoking a family (RevokeFamily) also denies the newest access
// token issued with it, whose jti the family keeps.
//
// # Authorization codes
//
// A code is 256 random bits, kept under its SHA-256, bound to the client,
// redirect URI, user, scope and PKCE challenge, and redeemed once: the
// first redemption marks it used atomically; a replay gets it back with
// ErrCodeReused so the caller revokes the family the first redemption
// started (RFC 6749 §4.1.2). The family id is chosen when the code is made,
// so a replay racing the first redemption still revokes it (a tombstone).
package tokens
