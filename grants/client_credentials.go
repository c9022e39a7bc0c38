package grants

import (
	"context"

	"github.com/go-oauth2/oauth2/v4"

	"authserver/tokens"
)

// clientCredentials (RFC 6749 §4.4): the authenticated client gets an access
// token for itself, and no refresh token (§4.4.3).
func (e *Endpoint) clientCredentials(ctx context.Context, st *tokenRequest, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	return e.issueAccess(ctx, st, "", tgr.Scope, tokens.NewJTI())
}
