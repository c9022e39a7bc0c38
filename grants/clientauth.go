package grants

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/clients"
	"authserver/ratelimit"
	"authserver/tokens"
)

// credentials are what a request presents to identify its client.
type credentials struct {
	id, secret string
	basic      bool // from the Authorization header
	hasSecret  bool
	assertion  bool // proven by a client assertion (clientassertion.go)
}

// proven reports whether the client proved who it is, not only named itself.
func (c credentials) proven() bool { return c.hasSecret || c.assertion }

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

// clientFromRequest reads the request's client credentials and
// authenticates them: the first step at /token, /revoke and /introspect.
// Every failure is audited once.
func (e *Endpoint) clientFromRequest(r *http.Request) (*clients.Client, credentials, error) {
	if hasAssertion(r) {
		return e.clientFromAssertion(r)
	}
	creds, perr := readCredentials(r)
	if perr != nil {
		if perr.Code == oerrors.ErrInvalidClient {
			e.events.Warn(r.Context(), audit.ClientAuthFailed, audit.ClientID(creds.id), audit.Reason(perr.Description))
		}
		return nil, creds, perr
	}
	c, err := e.authenticateClient(r, creds)
	return c, creds, err
}

// readAuthenticated is the shared start of /revoke and /introspect: the
// token endpoint's form rules, client authentication, and the token
// parameter. It writes the error answer itself and reports whether to go on.
func (e *Endpoint) readAuthenticated(w http.ResponseWriter, r *http.Request, check func(*clients.Client, credentials) error) (*clients.Client, string, bool) {
	if err := readTokenForm(w, r, e.cfg.MaxBodyBytes); err != nil {
		e.writeError(w, r, err)
		return nil, "", false
	}
	c, creds, err := e.clientFromRequest(r)
	if err == nil && check != nil {
		err = check(c, creds)
	}
	if err != nil {
		e.writeError(w, r, err)
		return nil, "", false
	}
	token := r.PostForm.Get("token")
	if token == "" {
		e.writeError(w, r, oauthErr(oerrors.ErrInvalidRequest, "token is required"))
		return nil, "", false
	}
	return c, token, true
}

// authenticateClient is the first step of every grant: it proves who the
// client is with the method it registered, before anything else is looked
// at (a password grant must not reveal whether a password is right to a
// client that could not authenticate).
func (e *Endpoint) authenticateClient(r *http.Request, creds credentials) (*clients.Client, error) {
	ctx := r.Context()
	fail := func(desc string) error {
		e.events.Warn(ctx, audit.ClientAuthFailed, audit.ClientID(creds.id), audit.Reason(desc))
		return oauthErr(oerrors.ErrInvalidClient, "%s", desc)
	}
	if !creds.hasSecret {
		c, err := e.clients.Lookup(ctx, creds.id)
		if re, ok := errors.AsType[*clients.ResolveError](err); ok {
			return nil, fail(re.Error()) // the client's own document is at fault: say how
		}
		if errors.Is(err, clients.ErrAuthenticationFailed) {
			return nil, fail("client authentication failed")
		}
		if err != nil {
			return nil, err
		}
		if !c.Public {
			return nil, fail("client authentication required")
		}
		return c, nil
	}
	c, err := e.clients.Authenticate(ctx, creds.id, creds.secret)
	if errors.Is(err, clients.ErrAuthenticationFailed) {
		// Only failures are counted, and only a failure can be locked out:
		// a 256-bit secret cannot be guessed, so checking the counter on
		// every success would cost a store round trip and buy nothing.
		ferr := fail("client authentication failed")
		if lerr := e.limiter.Fail(ctx, clientAuthLimitKey(creds.id), e.cfg.ClientAuthLimit); lerr != nil {
			var l *ratelimit.LimitedError
			if errors.As(lerr, &l) {
				e.events.Warn(ctx, audit.Lockout, audit.ClientID(creds.id), slog.String("limit", "client_auth"))
				return nil, limited(oerrors.ErrInvalidClient, l)
			}
			return nil, lerr
		}
		return nil, ferr
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.AuthMethod == clients.AuthSecretBasic && !creds.basic:
		return nil, fail("this client must authenticate with client_secret_basic")
	case c.AuthMethod == clients.AuthSecretPost && creds.basic:
		return nil, fail("this client must authenticate with client_secret_post")
	}
	return c, nil
}

// clientAuthLimitKey is the failure counter of a client id. The id is
// hashed: a caller may have pasted a secret where the id goes, and the store
// keeps no secrets.
func clientAuthLimitKey(id string) string {
	return "client-auth:" + hex.EncodeToString(tokens.Hash(id)[:16])
}
