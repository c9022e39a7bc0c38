package grants

import (
	"context"

	"authserver/tokens"
)

// clientCredentials (RFC 6749 §4.4): the authenticated client gets an access
// token for itself, and no refresh token (§4.4.3).
func (e *Endpoint) clientCredentials(_ context.Context, req *tokenRequest) (*issued, error) {
	access, err := e.mint(req, "", req.target, tokens.NewJTI())
	if err != nil {
		return nil, err
	}
	return &issued{access: access, scope: req.target.scope, ttl: req.target.ttl}, nil
}
