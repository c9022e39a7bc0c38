package tokens

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Chain makes a family's refresh tokens after the first one. A successor
// is not random: it is a MAC, under a key only the server holds, of the
// family, its generation and the hash of the token it replaces:
//
//	<family id>.<generation>.<link>.<mac>
//	link = base64url(SHA-256(previous token)[:16])
//	mac  = base64url(HMAC-SHA-256(key, "v1" | family id | generation | link))
//
// Two things follow, and both keep a session alive through a fault without
// weakening reuse detection:
//   - the successor of a token is always the same token, so a client that
//     retries a refresh whose answer it lost is given the very token the
//     first request produced (the store compares hashes: see Rotation);
//   - a token carries a generation only the server can have made, so a
//     token newer than what the store holds (a rotation acknowledged to
//     the client and then lost by a Redis failover) is recognised as the
//     legitimate head of its chain, never read as reuse.
//
// The store still keeps only hashes; the key is derived from the
// key-encryption secret and never stored.
type Chain struct{ key []byte }

// NewChain derives the chain key from the server's key-encryption secret.
func NewChain(secret []byte) (*Chain, error) {
	if len(secret) == 0 {
		return nil, errors.New("tokens: refresh chain needs a secret")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "authserver refresh chain v1", 32)
	if err != nil {
		return nil, err
	}
	return &Chain{key: key}, nil
}

const linkBytes = 16

var (
	linkLen = base64.RawURLEncoding.EncodedLen(linkBytes)
	macLen  = base64.RawURLEncoding.EncodedLen(sha256.Size)
)

// ErrForgedRefresh: a token in the successor form whose MAC does not hold.
var ErrForgedRefresh = errors.New("refresh token not made by this server")

// Successor is what rotating a presented token produces.
type Successor struct {
	Token string
	Hash  []byte
	// Generation is the successor's generation: the presented one's plus one.
	Generation int64
	// JTI is the jti of the access token issued with it, derived like the
	// token, so a retried refresh re-issues the same jti and revoking the
	// family denies every copy.
	JTI string
}

// Parse checks a presented refresh token and returns its family and
// generation: 0 for a family's first (random) token, whose generation the
// token cannot prove. ok is false for a malformed token; ErrForgedRefresh
// for a successor-form token with a bad MAC.
func (c *Chain) Parse(token string) (familyID string, generation int64, err error) {
	if fam, ok := parseFirst(token); ok {
		return fam, 0, nil
	}
	fam, gen, link, mac, ok := splitSuccessor(token)
	if !ok {
		return "", 0, errMalformedRefresh
	}
	want := c.mac(fam, gen, link)
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, want) {
		return fam, 0, ErrForgedRefresh
	}
	return fam, gen, nil
}

var errMalformedRefresh = errors.New("malformed refresh token")

// IsMalformed reports whether Parse refused the token as not a refresh
// token at all.
func IsMalformed(err error) bool { return errors.Is(err, errMalformedRefresh) }

// Next returns the successor of presented, a token of familyID at
// generation gen (as Parse returned them).
func (c *Chain) Next(familyID string, gen int64, presented string) Successor {
	sum := sha256.Sum256([]byte(presented))
	link := base64.RawURLEncoding.EncodeToString(sum[:linkBytes])
	next := gen + 1
	token := familyID + "." + strconv.FormatInt(next, 10) + "." + link + "." +
		base64.RawURLEncoding.EncodeToString(c.mac(familyID, next, link))
	h := Hash(token)
	j := hmac.New(sha256.New, c.key)
	j.Write([]byte("jti"))
	j.Write(h)
	return Successor{Token: token, Hash: h, Generation: next,
		JTI: base64.RawURLEncoding.EncodeToString(j.Sum(nil)[:16])}
}

func (c *Chain) mac(familyID string, gen int64, link string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("v1|"))
	m.Write([]byte(familyID))
	m.Write([]byte("|"))
	m.Write([]byte(strconv.FormatInt(gen, 10)))
	m.Write([]byte("|"))
	m.Write([]byte(link))
	return m.Sum(nil)
}

// splitSuccessor takes a successor-form token apart, checking its shape.
func splitSuccessor(token string) (fam string, gen int64, link, mac string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return "", 0, "", "", false
	}
	fam, g, link, mac := parts[0], parts[1], parts[2], parts[3]
	if len(fam) != familyIDLen || !isBase64URL(fam) || len(link) != linkLen || !isBase64URL(link) ||
		len(mac) != macLen || !isBase64URL(mac) || len(g) == 0 || len(g) > 18 || g[0] == '0' {
		return "", 0, "", "", false
	}
	gen, err := strconv.ParseInt(g, 10, 64)
	if err != nil || gen < 1 {
		return "", 0, "", "", false
	}
	return fam, gen, link, mac, true
}
