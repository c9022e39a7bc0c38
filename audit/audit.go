// Package audit records security events as structured slog records: one
// record per event, with the request id of the request that caused it and
// the ids of the client and user concerned, and never a secret or a token.
//
// Every record has msg "audit" and an "event" attribute naming what
// happened (the Event constants), so a log pipeline can pick them out of the
// server's other logs:
//
//	{"time":"...","level":"WARN","msg":"audit","event":"client_auth_failed",
//	 "request_id":"4f1c...","client_id":"9a3e...","reason":"wrong secret"}
//
// The request id comes from the context (WithRequestID, set by the
// RequestID middleware on both listeners).
package audit

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"authserver/users"
)

// Event names. Each is logged once per occurrence.
const (
	// AdminAction: an admin API call changed something ("action" says what).
	AdminAction = "admin_action"
	// AdminAuthFailed: an admin API call without a valid bearer token.
	AdminAuthFailed = "admin_auth_failed"
	// ClientAuthFailed: a client failed to authenticate at /token,
	// /revoke or /introspect.
	ClientAuthFailed = "client_auth_failed"
	// ClientRegistered: a client registered itself (RFC 7591).
	ClientRegistered = "client_registered"
	// Lockout: a request refused because a failure limit was reached.
	Lockout = "lockout"
	// RefreshReuse: a rotated refresh token was presented again.
	RefreshReuse = "refresh_reuse_detected"
	// RefreshRetried: a refresh token presented again within the grace
	// window while its successor was unused: answered with that successor.
	RefreshRetried = "refresh_retried"
	// RefreshRecovered: a refresh token newer than the store's current one
	// (the store lost rotations, as in a failover) became current again.
	RefreshRecovered = "refresh_recovered"
	// RefreshForged: a refresh token in the successor form whose MAC fails.
	RefreshForged = "refresh_forged"
	// RefreshClientMismatch: a client presented another client's refresh token.
	RefreshClientMismatch = "refresh_client_mismatch"
	// FamilyRevoked: a refresh-token family was revoked ("reason" says why).
	FamilyRevoked = "family_revoked"
	// AccessTokenRevoked: an access token's jti was put on the deny list.
	AccessTokenRevoked = "access_token_revoked"
	// CodeReplayed: an authorization code was redeemed a second time.
	CodeReplayed = "code_replayed"
	// CodeClientMismatch: a client redeemed another client's code.
	CodeClientMismatch = "code_client_mismatch"
	// SignInFailed: a wrong username or password on the sign-in page.
	SignInFailed = "sign_in_failed"
	// CSRFRejected: a sign-in or consent form without its CSRF token.
	CSRFRejected = "csrf_rejected"
	// DPoPKeyMismatch: a refresh token or code bound to a DPoP key came
	// without a proof by that key ("what" says which).
	DPoPKeyMismatch = "dpop_key_mismatch"
)

// Logger writes audit events to a *slog.Logger.
type Logger struct{ log *slog.Logger }

// New returns a Logger writing to l; nil discards the events.
func New(l *slog.Logger) *Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Logger{log: l}
}

// Info records a routine event (an admin action). args are slog-style:
// Attrs (ClientID, UserID, ...) or key-value pairs.
func (a *Logger) Info(ctx context.Context, event string, args ...any) {
	a.write(ctx, slog.LevelInfo, event, args)
}

// Warn records an event that may be an attack or a compromise.
func (a *Logger) Warn(ctx context.Context, event string, args ...any) {
	a.write(ctx, slog.LevelWarn, event, args)
}

func (a *Logger) write(ctx context.Context, level slog.Level, event string, args []any) {
	if ctx == nil {
		ctx = context.Background()
	}
	h := a.log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	var given slog.Record
	given.Add(args...)
	r := slog.NewRecord(time.Now(), level, "audit", 0)
	r.AddAttrs(slog.String("event", event))
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	given.Attrs(func(at slog.Attr) bool {
		switch {
		case sensitiveKey(at.Key):
			// A second line of defence: callers pass ids only, but an
			// attribute named like a credential is never written.
			at = slog.String(at.Key, "[redacted]")
		case at.Key == "username" && at.Value.Kind() == slog.KindString:
			at = Username(at.Value.String()) // also for callers that did not use Username
		}
		r.AddAttrs(at)
		return true
	})
	_ = h.Handle(ctx, r) // a log that cannot be written must not fail the request
}

func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"secret", "password", "cookie", "authorization", "verifier"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return k == "code" || strings.HasSuffix(k, "token")
}

// ClientID is the client_id attribute. Only a well-formed client id is
// written: the id of a failed authentication comes from the caller, who may
// have pasted the secret into it.
func ClientID(id string) slog.Attr {
	if !wellFormedID(id) {
		return slog.Bool("client_id_malformed", true)
	}
	return slog.String("client_id", id)
}

// UserID is the user_id attribute (ids come from the store).
func UserID(id string) slog.Attr { return slog.String("user_id", id) }

// FamilyID is the family_id attribute of a refresh-token family: an id the
// admin API lists, not the token, whose secret half is never logged.
func FamilyID(id string) slog.Attr { return slog.String("family_id", id) }

// Reason says why something happened.
func Reason(r string) slog.Attr { return slog.String("reason", r) }

// Username is a username as typed at sign-in or in a password grant; it
// names a lockout counter before any user is looked up. Only a name that
// could be valid is written, in its normalized form: one that cannot
// (spaces, symbols, too long) is very often a password typed into the
// wrong field, and is written as "username_malformed":true.
func Username(u string) slog.Attr {
	name, err := users.NormalizeUsername(u)
	if err != nil {
		return slog.Bool("username_malformed", true)
	}
	return slog.String("username", name)
}

// wellFormedID accepts the server's generated ids: 32 lowercase hex digits
// (128 bits). A client secret (43 base64url characters) never passes.
func wellFormedID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
