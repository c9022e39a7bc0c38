package grants

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"authserver/clients"
	"authserver/tokens"
)

// CodeGrant is what a user approved at the authorization endpoint; the code
// minted for it is bound to all of it.
type CodeGrant struct {
	ClientID    string
	UserID      string
	RedirectURI string // exactly as the authorization request sent it
	Scope       string
	// CodeChallenge is the S256 PKCE challenge; empty only where
	// PKCERequired allows it.
	CodeChallenge string
	AuthTime      time.Time
	// Nonce is the request's OpenID Connect nonce, for the ID Token.
	Nonce string
	// SessionID is the approving session's sid, for the ID Token.
	SessionID string
	// Resources are the request's RFC 8707 resources (CheckResources).
	Resources []string
	// UserGeneration is the session's (the user's at sign-in) and
	// ClientGeneration the client's now: revoking either kills the code.
	UserGeneration   int64
	ClientGeneration int64
	// DPoPJKT is the request's dpop_jkt (RFC 9449 §10), if any: the code
	// is then exchanged only with a proof of that key.
	DPoPJKT string
}

// PKCERequired is the PKCE policy: always for public clients (RFC 9700
// §2.1.1), and for confidential ones unless the config relaxes it.
func (e *Endpoint) PKCERequired(c *clients.Client) bool {
	return c.Public || e.cfg.RequirePKCEConfidential
}

// VerifyIDTokenHint checks an id_token_hint sent to /authorize by clientID
// and returns its subject (Issuer.VerifyIDTokenHint).
func (e *Endpoint) VerifyIDTokenHint(raw, clientID string) (string, error) {
	return e.issuer.VerifyIDTokenHint(raw, clientID)
}

// Subject is the sub client c sees for userID (Issuer.Subject), to compare
// with an id_token_hint's.
func (e *Endpoint) Subject(c *clients.Client, userID string) string {
	return e.issuer.Subject(c, userID)
}

// IssueCode mints an authorization code for g and stores only its hash. The
// refresh-token family its redemption will start is chosen now, so a replay
// of the code can revoke it whenever it comes.
func (e *Endpoint) IssueCode(ctx context.Context, g CodeGrant) (string, error) {
	if g.ClientID == "" || g.UserID == "" || g.RedirectURI == "" {
		return "", errors.New("grants: a code needs a client, a user and a redirect URI")
	}
	if g.CodeChallenge != "" && !ValidS256Challenge(g.CodeChallenge) {
		return "", errors.New("grants: malformed PKCE challenge")
	}
	if g.DPoPJKT != "" && !ValidJKT(g.DPoPJKT) {
		return "", errors.New("grants: malformed dpop_jkt")
	}
	now := e.now()
	code, hash := tokens.NewCode()
	err := e.codes.SaveCode(ctx, hash, tokens.Code{
		ClientID: g.ClientID, UserID: g.UserID, RedirectURI: g.RedirectURI, Scope: g.Scope,
		CodeChallenge: g.CodeChallenge, AuthTime: g.AuthTime, Nonce: g.Nonce, SessionID: g.SessionID, Resources: g.Resources, ExpiresAt: now.Add(e.cfg.CodeTTL),
		FamilyID: tokens.NewFamilyID(), UserGeneration: g.UserGeneration, ClientGeneration: g.ClientGeneration,
		DPoPJKT: g.DPoPJKT,
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// ValidS256Challenge reports whether s can be an S256 code challenge: the
// base64url SHA-256 of a verifier, 43 characters (RFC 7636 §4.2).
func ValidS256Challenge(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// validVerifier applies RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// s256 is the S256 challenge of a verifier.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// codeJTI is the jti of the access token a code's redemption issues. It is
// derived from the family id chosen with the code, so a replay can deny that
// token even when the client gets no refresh token (and no family exists);
// it is one-way, so the jti a resource server sees does not reveal the
// family id carried by the refresh token.
func codeJTI(familyID string) string {
	h := sha256.Sum256([]byte("code-jti:" + familyID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}
