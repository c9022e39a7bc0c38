package grants

import (
	"context"
	"errors"
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"authserver/audit"
	"authserver/clients"
	"authserver/tokens"
)

// Introspection is an RFC 7662 answer. An inactive token gets only
// {"active": false}: nothing about why, or whose it was.
type Introspection struct {
	Active   bool     `json:"active"`
	Scope    string   `json:"scope,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Subject  string   `json:"sub,omitempty"`
	Audience []string `json:"aud,omitempty"`
	Issuer   string   `json:"iss,omitempty"`
	Expires  int64    `json:"exp,omitempty"`
	IssuedAt int64    `json:"iat,omitempty"`
	// TokenType is "Bearer" for an access token and "refresh_token" for a
	// refresh token, so a resource server that checks it never takes a
	// refresh token for an access token.
	TokenType string `json:"token_type,omitempty"`
	JTI       string `json:"jti,omitempty"`
	// Cnf is the key a DPoP-bound access token is bound to (RFC 9449
	// §6.2), whose token_type is then "DPoP".
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Token types in introspection answers.
const (
	TokenTypeAccess  = "Bearer"
	TokenTypeRefresh = "refresh_token"
)

// IntrospectionHandler serves POST /introspect (RFC 7662) to confidential
// clients only: a resource server registers as a client (client_credentials
// is the usual grant) and authenticates with its secret. It answers:
//
//   - an access token: active if its signature, typ, iss and exp hold and
//     its jti is not denied; a signature check and one deny-list lookup,
//     nothing else (so a disabled client's or deleted user's access tokens
//     stay active until exp, which access_ttl bounds);
//   - a refresh token: active only if it is the current token of a live
//     family and the asking client is the one it was issued to (a refresh
//     token is bound to its client, RFC 6749 §10.4); exp is when the family
//     dies if unused, iat when the sign-in began, jti the family id;
//   - anything else: {"active": false}.
func (e *Endpoint) IntrospectionHandler() http.Handler {
	if e.deny == nil {
		panic("grants: introspection needs Deps.Deny") // wiring error, caught at start-up
	}
	return http.HandlerFunc(e.serveIntrospect)
}

func (e *Endpoint) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	c, token, ok := e.readAuthenticated(w, r, func(c *clients.Client, creds credentials) error {
		if c.Public || !creds.proven() {
			// RFC 7662 §2.1: the endpoint must not be open to anyone; a
			// public client's id is no proof of anything.
			const desc = "introspection requires a confidential client"
			e.events.Warn(r.Context(), audit.ClientAuthFailed, audit.ClientID(c.ID), audit.Reason(desc))
			return oauthErr(oerrors.ErrInvalidClient, desc)
		}
		return nil
	})
	if !ok {
		return
	}
	ctx := r.Context()
	out := Introspection{}
	var err error
	for _, kind := range lookupOrder(r.PostForm.Get("token_type_hint")) {
		var found bool
		if kind == hintRefreshToken {
			out, found, err = e.introspectRefresh(ctx, c, token)
		} else {
			out, found, err = e.introspectAccess(ctx, token)
		}
		if err != nil {
			e.writeError(w, r, err)
			return
		}
		if found {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// checkAccess is the one check of an access token, for introspection and
// UserInfo alike: claims is nil unless the token is an access token this
// server signed (signature, typ, iss, exp: Issuer.Verify) with a jti, exp
// and iat; denied reports whether its jti is on the deny list. aud is not
// checked: every audience a token of ours can carry (a client's registered
// one, tokens.audience, or RFC 8707 resources) is ours to name, and it is
// answered as the token carries it.
func (e *Endpoint) checkAccess(ctx context.Context, token string) (claims *AccessClaims, denied bool, err error) {
	claims, err = e.issuer.Verify(token)
	if err != nil || claims.ID == "" || claims.ExpiresAt == nil || claims.IssuedAt == nil {
		return nil, false, nil
	}
	denied, err = e.deny.IsDenied(ctx, claims.ID)
	return claims, denied, err
}

// introspectAccess: found reports whether token is a valid access token;
// out is active unless its jti is denied.
func (e *Endpoint) introspectAccess(ctx context.Context, token string) (out Introspection, found bool, err error) {
	claims, denied, err := e.checkAccess(ctx, token)
	if claims == nil {
		return Introspection{}, false, err
	}
	if err != nil || denied {
		return Introspection{}, true, err
	}
	return Introspection{
		Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject,
		Audience: claims.Audience, Issuer: claims.Issuer, Expires: claims.ExpiresAt.Unix(),
		IssuedAt: claims.IssuedAt.Unix(), TokenType: tokenType(claims.Cnf.jkt()), JTI: claims.ID,
		Cnf: claims.Cnf,
	}, true, nil
}

// introspectRefresh: found reports whether token is shaped like a refresh
// token; out is active for the current token of a live family of c.
func (e *Endpoint) introspectRefresh(ctx context.Context, c *clients.Client, token string) (out Introspection, found bool, err error) {
	familyID, ok := tokens.ParseRefreshToken(token)
	if !ok {
		return Introspection{}, false, nil
	}
	f, err := e.families.LookupRefresh(ctx, familyID, tokens.Hash(token), e.now())
	switch {
	case errors.Is(err, tokens.ErrFamilyNotFound), errors.Is(err, tokens.ErrFamilyRevoked):
		return Introspection{}, true, nil
	case err != nil:
		return Introspection{}, true, err
	}
	if f.ClientID != c.ID || f.ClientGeneration != c.Generation {
		return Introspection{}, true, nil
	}
	// What a refresh would refuse is not active (see familyStillGranted).
	if current, err := e.userIsCurrent(ctx, f.UserID, f.UserGeneration); err != nil || !current {
		return Introspection{}, true, err
	}
	return Introspection{
		Active: true, Scope: c.LiveScope(f.Scope), ClientID: f.ClientID, Subject: f.UserID,
		Issuer: e.issuer.URL(), Expires: minTime(f.IdleExpiresAt, f.ExpiresAt).Unix(),
		IssuedAt: f.CreatedAt.Unix(), TokenType: TokenTypeRefresh, JTI: f.ID,
	}, true, nil
}
