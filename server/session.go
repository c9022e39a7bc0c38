package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/sessions"
	"authserver/users"
)

const tokenBytes = 32

// signedIn is the browser's live session and its user.
type signedIn struct {
	sess sessions.Session
	hash []byte
	user *users.User
	// csrf is the session's anti-forgery token for the pages' forms.
	csrf string
}

// signedIn returns the session the cookie names, or nil when there is none,
// it expired, or its user is gone, disabled or revoked since the sign-in
// (tokens.Revoker: the user's generation moved on).
func (a *Authorize) signedIn(c *gin.Context) (*signedIn, error) {
	id, err := c.Cookie(a.sessionCookie)
	if err != nil || !wellFormedToken(id) {
		return nil, nil
	}
	ctx := c.Request.Context()
	hash := hashToken(id)
	sess, err := a.d.Sessions.GetSession(ctx, hash)
	if errors.Is(err, sessions.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := a.d.Users.Current(ctx, sess.UserID)
	if errors.Is(err, users.ErrNotFound) || (err == nil && (u.Disabled || u.Generation != sess.UserGeneration)) {
		return nil, a.d.Sessions.DeleteSession(ctx, hash)
	}
	if err != nil {
		return nil, err
	}
	return &signedIn{sess: sess, hash: hash, user: u, csrf: sessionCSRF(id)}, nil
}

// startSession signs the browser in as u under a new session id; the old
// one, if any, is dropped, so no session id survives a sign-in (session
// fixation).
func (a *Authorize) startSession(c *gin.Context, u *users.User) error {
	ctx := c.Request.Context()
	if old, err := c.Cookie(a.sessionCookie); err == nil && wellFormedToken(old) {
		if err := a.d.Sessions.DeleteSession(ctx, hashToken(old)); err != nil {
			return err
		}
	}
	now := a.now()
	id := newToken()
	sess := sessions.Session{
		ID: newSessionID(), UserID: u.ID, AuthTime: now.UTC(), ExpiresAt: now.Add(a.cfg.SessionTTL).UTC(),
		UserGeneration: u.Generation,
	}
	if err := a.d.Sessions.SaveSession(ctx, hashToken(id), sess); err != nil {
		return err
	}
	a.setCookie(c, a.sessionCookie, id, int(a.cfg.SessionTTL/time.Second))
	return nil
}

// loginCSRFValid checks the sign-in form's token against the browser's
// CSRF cookie, as there is no session yet to hold one. The cookie is
// SameSite=Lax, so a cross-site post does not carry it.
func (a *Authorize) loginCSRFValid(c *gin.Context, token string) bool {
	cookie, err := c.Cookie(a.csrfCookie)
	return err == nil && wellFormedToken(cookie) && equalSecret(token, cookie)
}

// loginCSRF returns the browser's CSRF token, setting the cookie when the
// browser has none.
func (a *Authorize) loginCSRF(c *gin.Context) string {
	if v, err := c.Cookie(a.csrfCookie); err == nil && wellFormedToken(v) {
		return v
	}
	v := newToken()
	a.setCookie(c, a.csrfCookie, v, 0)
	return v
}

func (a *Authorize) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// newToken returns 256 random bits, base64url: session ids and CSRF tokens.
func newToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSessionID returns a session's sid: 128 random bits, base64url, drawn
// apart from the cookie, since relying parties are given it.
func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func wellFormedToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// sessionCSRF is a session's anti-forgery token: derived from the session
// id, which the store keeps only as a hash, so nothing in the store gives
// it away, and one-way, so the token on a page gives no session away.
func sessionCSRF(sessionID string) string {
	h := sha256.Sum256([]byte("csrf:" + sessionID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// hashToken is how a session id is stored: its SHA-256, so a dump of the
// store holds no usable cookie.
func hashToken(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// equalSecret compares in constant time; an empty value never matches.
func equalSecret(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
