package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/users"
)

// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): a browser that signed a user in holds a cookie naming that
// user, and its later attempts for that user are counted per device
// (ratelimit.PasswordLimits.Counters), so someone who knows only the
// username cannot lock that browser out.
//
// The cookie is "LOGIN|NONCE|EXPIRES|MAC", MAC an HMAC-SHA256 over the rest
// under a key every node derives from the shared key encryption secret. A
// signed value, not a stored one: a successful sign-in writes nothing more
// to the store, and there is nothing to revoke, since the cookie grants no
// access, only a failure budget of its own that its own failures use up.

const (
	deviceNonceBytes = 16
	deviceMACBytes   = sha256.Size
)

// deviceCookieName is the cookie of one username, so a browser shared by
// several users keeps one for each.
func (a *Authorize) deviceCookieName(username string) string {
	h := sha256.Sum256([]byte(username))
	return a.deviceCookie + "_" + hex.EncodeToString(h[:8])
}

func (a *Authorize) deviceMAC(login, nonce, expires string) []byte {
	m := hmac.New(sha256.New, a.cfg.DeviceCookieKey)
	m.Write([]byte("device v1|" + login + "|" + nonce + "|" + expires))
	return m.Sum(nil)
}

// deviceID returns the nonce of the browser's valid device cookie for
// username, or "" when it has none, or one for another user, expired, or
// not made by us.
func (a *Authorize) deviceID(c *gin.Context, username string) string {
	if len(a.cfg.DeviceCookieKey) == 0 {
		return ""
	}
	login, err := users.NormalizeUsername(username)
	if err != nil {
		return ""
	}
	v, err := c.Cookie(a.deviceCookieName(login))
	if err != nil {
		return ""
	}
	parts := strings.Split(v, "|")
	if len(parts) != 4 || parts[0] != login {
		return ""
	}
	nonce, expires := parts[1], parts[2]
	if n, err := base64.RawURLEncoding.DecodeString(nonce); err != nil || len(n) != deviceNonceBytes {
		return ""
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(mac) != deviceMACBytes || !hmac.Equal(mac, a.deviceMAC(login, nonce, expires)) {
		return ""
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || !a.now().Before(time.Unix(exp, 0)) {
		return ""
	}
	return nonce
}

// setDeviceCookie gives the browser a fresh device cookie for the user it
// has just signed in.
func (a *Authorize) setDeviceCookie(c *gin.Context, u *users.User) {
	if len(a.cfg.DeviceCookieKey) == 0 || a.cfg.DeviceCookieTTL <= 0 {
		return
	}
	b := make([]byte, deviceNonceBytes)
	rand.Read(b) // never fails (crypto/rand panics on failure since Go 1.24)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	expires := strconv.FormatInt(a.now().Add(a.cfg.DeviceCookieTTL).Unix(), 10)
	mac := base64.RawURLEncoding.EncodeToString(a.deviceMAC(u.Username, nonce, expires))
	a.setCookie(c, a.deviceCookieName(u.Username), u.Username+"|"+nonce+"|"+expires+"|"+mac, int(a.cfg.DeviceCookieTTL/time.Second))
}
