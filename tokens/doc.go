// Package tokens defines the opaque tokens the server remembers (refresh
// tokens and authorization codes), how they are made and hashed, and the
// store contracts that keep them.
//
// # Refresh tokens
//
// A refresh token is "<family id>.<secret>": 128 random bits naming its
// family and 256 random bits of secret, base64url. The store keeps only the
// SHA-256 of the whole token, so a dump of the store yields nothing usable.
//
// A family is one sign-in on one device; a user may hold many. Its state:
//
//	current   hash of the one token that may be presented next
//	previous  hash of the token it replaced, and when
//	revoked   set once, never cleared
//
// Presenting token T for family F by client C, in one atomic step:
//
//	F missing, idle-expired or past its absolute end  -> not found    (invalid_grant)
//	F revoked                                         -> revoked      (invalid_grant)
//	F owned by another client                         -> mismatch     (invalid_grant, F unchanged)
//	T = current                                       -> rotate: previous = T, current = next
//	T = previous and within the grace window          -> rotate again (a lost response retried)
//	anything else                                     -> reuse: F revoked (RFC 9700 §4.14.2)
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
