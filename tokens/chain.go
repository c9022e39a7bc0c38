package tokens

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
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
type Chain struct {
	macs sync.Pool // of HMAC-SHA-256 under the chain key
}

// NewChain derives the chain key from the server's key-encryption secret.
func NewChain(secret []byte) (*Chain, error) {
	if len(secret) == 0 {
		return nil, errors.New("tokens: refresh chain needs a secret")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "authserver refresh chain v1", 32)
	if err != nil {
		return nil, err
	}
	c := &Chain{}
	c.macs.New = func() any { return hmac.New(sha256.New, key) }
	return c, nil
}

const (
	linkBytes = 16
	linkLen   = (linkBytes*8 + 5) / 6   // base64url without padding
	macLen    = (sha256.Size*8 + 5) / 6 // likewise
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
// token cannot prove. A malformed token gives an error IsMalformed
// reports; a successor-form token with a bad MAC, ErrForgedRefresh (with
// the family it names).
func (c *Chain) Parse(token string) (familyID string, generation int64, err error) {
	if fam, ok := parseFirst(token); ok {
		return fam, 0, nil
	}
	fam, gen, link, mac, ok := splitSuccessor(token)
	if !ok {
		return "", 0, errMalformedRefresh
	}
	var got [sha256.Size]byte
	n, err := base64.RawURLEncoding.Decode(got[:], []byte(mac))
	var want [sha256.Size]byte
	if err != nil || n != sha256.Size || !hmac.Equal(got[:], c.mac(want[:0], fam, gen, link)) {
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
	next := gen + 1
	var link [linkLen]byte
	base64.RawURLEncoding.Encode(link[:], sum[:linkBytes])
	var mac [sha256.Size]byte
	buf := make([]byte, 0, familyIDLen+1+20+1+linkLen+1+macLen)
	buf = append(buf, familyID...)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, next, 10)
	buf = append(buf, '.')
	buf = append(buf, link[:]...)
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, c.mac(mac[:0], familyID, next, string(link[:])))
	token := string(buf)
	h := Hash(token)
	var jti [sha256.Size]byte
	return Successor{Token: token, Hash: h, Generation: next,
		JTI: base64.RawURLEncoding.EncodeToString(c.sum(jti[:0], "jti", h)[:16])}
}

// mac appends the MAC of a successor's fields to dst.
func (c *Chain) mac(dst []byte, familyID string, gen int64, link string) []byte {
	var msg [96]byte
	m := append(msg[:0], "v1|"...)
	m = append(m, familyID...)
	m = append(m, '|')
	m = strconv.AppendInt(m, gen, 10)
	m = append(m, '|')
	m = append(m, link...)
	return c.sum(dst, "", m)
}

// sum appends HMAC-SHA-256(key, label | msg) to dst, with a pooled HMAC.
func (c *Chain) sum(dst []byte, label string, msg []byte) []byte {
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(label))
	h.Write(msg)
	dst = h.Sum(dst)
	c.macs.Put(h)
	return dst
}

// splitSuccessor takes a successor-form token apart, checking its shape.
func splitSuccessor(token string) (fam string, gen int64, link, mac string, ok bool) {
	fam, rest, ok1 := strings.Cut(token, ".")
	g, rest, ok2 := strings.Cut(rest, ".")
	link, mac, ok3 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !ok3 || len(fam) != familyIDLen || !isBase64URL(fam) || len(link) != linkLen || !isBase64URL(link) ||
		len(mac) != macLen || !isBase64URL(mac) || len(g) == 0 || len(g) > 18 || g[0] == '0' {
		return "", 0, "", "", false
	}
	gen, err := strconv.ParseInt(g, 10, 64)
	if err != nil || gen < 1 {
		return "", 0, "", "", false
	}
	return fam, gen, link, mac, true
}
