package grants

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/clients"
	"authserver/ratelimit"
)

// credentials are what a request presents to identify its client.
type credentials struct {
	id, secret string
	basic      bool // from the Authorization header
	hasSecret  bool
}

// readCredentials takes client credentials from the Basic header (values
// form-url-decoded, RFC 6749 §2.3.1) or the body, never both.
func readCredentials(r *http.Request) (credentials, *Error) {
	var c credentials
	bodyID, bodySecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	_, bodyHasSecret := r.PostForm["client_secret"]

	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return c, oauthErr(oerrors.ErrInvalidClient, "unsupported authorization scheme; use Basic")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return c, oauthErr(oerrors.ErrInvalidClient, "malformed Basic credentials")
		}
		id, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return c, oauthErr(oerrors.ErrInvalidClient, "malformed Basic credentials")
		}
		if c.id, err = url.QueryUnescape(id); err != nil {
			return c, oauthErr(oerrors.ErrInvalidClient, "malformed Basic credentials")
		}
		if c.secret, err = url.QueryUnescape(secret); err != nil {
			return c, oauthErr(oerrors.ErrInvalidClient, "malformed Basic credentials")
		}
		c.basic, c.hasSecret = true, true
		if bodyHasSecret {
			return c, oauthErr(oerrors.ErrInvalidRequest, "use one client authentication method: Basic or client_secret in the body, not both")
		}
		if bodyID != "" && bodyID != c.id {
			return c, oauthErr(oerrors.ErrInvalidRequest, "client_id in the body does not match the Basic credentials")
		}
		return c, nil
	}
	if bodyID == "" {
		return c, oauthErr(oerrors.ErrInvalidClient, "client authentication required")
	}
	c.id, c.secret, c.hasSecret = bodyID, bodySecret, bodyHasSecret
	return c, nil
}

// authenticateClient is the first step of every grant: it proves who the
// client is with the method it registered, before anything else is looked
// at (a password grant must not reveal whether a password is right to a
// client that could not authenticate).
func (e *Endpoint) authenticateClient(r *http.Request, creds credentials) (*clients.Client, error) {
	ctx := r.Context()
	if !creds.hasSecret {
		c, err := e.clients.Lookup(ctx, creds.id)
		if errors.Is(err, clients.ErrAuthenticationFailed) {
			return nil, oauthErr(oerrors.ErrInvalidClient, "client authentication failed")
		}
		if err != nil {
			return nil, err
		}
		if !c.Public {
			return nil, oauthErr(oerrors.ErrInvalidClient, "client authentication required")
		}
		return c, nil
	}
	c, err := e.clients.Authenticate(ctx, creds.id, creds.secret)
	if errors.Is(err, clients.ErrAuthenticationFailed) {
		// Only failures are counted, and only a failure can be locked out:
		// a 256-bit secret cannot be guessed, so checking the counter on
		// every success would cost a store round trip and buy nothing.
		e.audit.Warn("client authentication failed", "client_id", creds.id)
		if lerr := e.limiter.Fail(ctx, "client-auth:"+creds.id, e.cfg.ClientAuthLimit); lerr != nil {
			var l *ratelimit.LimitedError
			if errors.As(lerr, &l) {
				return nil, limited(oerrors.ErrInvalidClient, l)
			}
			return nil, lerr
		}
		return nil, oauthErr(oerrors.ErrInvalidClient, "client authentication failed")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.AuthMethod == clients.AuthSecretBasic && !creds.basic:
		return nil, oauthErr(oerrors.ErrInvalidClient, "this client must authenticate with client_secret_basic")
	case c.AuthMethod == clients.AuthSecretPost && creds.basic:
		return nil, oauthErr(oerrors.ErrInvalidClient, "this client must authenticate with client_secret_post")
	}
	return c, nil
}
