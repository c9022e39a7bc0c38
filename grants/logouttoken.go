package grants

import (
	"fmt"
	"time"

	"authserver/clients"
	"authserver/tokens"
)

// logoutTokenType is the typ of Back-Channel Logout 1.0 logout tokens
// (§2.4), so no logout token is ever taken for an ID or access token.
const logoutTokenType = "logout+jwt"

// backchannelLogoutEvent is the one member of a logout token's events.
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutClaims are a logout token's claims (§2.4); never a nonce.
type logoutClaims struct {
	Issuer    string                    `json:"iss"`
	Subject   string                    `json:"sub"`
	Audience  string                    `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	ExpiresAt int64                     `json:"exp"`
	ID        string                    `json:"jti"`
	SessionID string                    `json:"sid,omitempty"`
	Events    map[string]map[string]any `json:"events"`
}

// MintLogoutToken signs a logout token telling client c that userID's
// session sid ended, or every session of the user when sid is "", with the
// client's ID Token alg; its sub is the one the client's ID Tokens carry
// (Issuer.Subject), its sid the one they carried.
func (i *Issuer) MintLogoutToken(c *clients.Client, userID, sid string, now time.Time, ttl time.Duration) (string, error) {
	alg := c.IDTokenSigningAlg()
	k, ok := i.keys.SigningKeyFor(alg)
	if !ok {
		return "", fmt.Errorf("sign logout token: no %s signing key", alg)
	}
	header, err := encodeHeader(k, logoutTokenType)
	if err != nil {
		return "", err
	}
	s, err := signCompact(k, header, logoutClaims{
		Issuer: i.issuer, Subject: i.Subject(c, userID), Audience: c.ID,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(ttl).Unix(), ID: tokens.NewJTI(), SessionID: sid,
		Events: map[string]map[string]any{backchannelLogoutEvent: {}},
	})
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return s, nil
}
