package dpop

import (
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// proofType is the typ every DPoP proof carries (RFC 9449 §4.2).
const proofType = "dpop+jwt"

// proofClaims are the claims of a proof (RFC 9449 §4.2). A claim of the
// wrong JSON type fails decoding, so the proof is malformed.
type proofClaims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"` // not jwt.NumericDate: it takes "123" too
	ATH   string   `json:"ath,omitempty"`
	Nonce string   `json:"nonce,omitempty"`
}

// maxIAT bounds iat to what time.Time holds exactly, far beyond any real
// clock (year 36812).
const maxIAT = 1 << 40

// issuedAt is iat as a time, false when it is missing or absurd.
func (c *proofClaims) issuedAt() (time.Time, bool) {
	if c.IAT == nil || *c.IAT < 0 || *c.IAT > maxIAT {
		return time.Time{}, false
	}
	sec, frac := math.Modf(*c.IAT)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// The jwt.Claims methods are only there to satisfy golang-jwt: Verify
// turns its claim validation off and checks iat itself.
func (c *proofClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c *proofClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c *proofClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *proofClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *proofClaims) GetSubject() (string, error)                  { return "", nil }
func (c *proofClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }
