package grants

import (
	"context"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// authorizationCode (RFC 6749 §4.1.3) is served once the authorization
// endpoint issues codes.
func (e *Endpoint) authorizationCode(ctx context.Context, st *tokenRequest, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	return nil, oauthErr(oerrors.ErrUnsupportedGrantType, "authorization_code is not served yet")
}
