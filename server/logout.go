package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"

	"authserver/audit"
	"authserver/clients"
	"authserver/grants"
)

// HintVerifier checks an id_token_hint (*grants.Issuer).
type HintVerifier interface {
	ParseIDTokenHint(raw string) (grants.IDTokenHint, error)
	// Subject is the sub c sees for userID, to compare with the hint's.
	Subject(c *clients.Client, userID string) string
}

// EndSession is the end_session_endpoint of OpenID Connect RP-Initiated
// Logout 1.0, served at <issuer>/end_session (GET and POST). It ends the
// browser's session as POST /logout does: at once when a valid
// id_token_hint names the signed-in user, after the user confirms
// otherwise, so no other site can sign a user out unasked.
type EndSession struct {
	a     *Authorize
	hints HintVerifier
}

// NewEndSession returns the endpoint over the pages and sessions of a.
func NewEndSession(a *Authorize, hints HintVerifier) *EndSession {
	return &EndSession{a: a, hints: hints}
}

func (e *EndSession) routes(r gin.IRoutes) {
	r.Match([]string{http.MethodGet, http.MethodPost}, "/end_session", e.serve)
}

// logoutRequest is a validated logout request.
type logoutRequest struct {
	hint *grants.IDTokenHint
	// returnTo is the registered post_logout_redirect_uri, or empty: only
	// an exact match for the client is ever redirected to.
	returnTo string
	state    string
	query    url.Values // what the confirmation form posts back
}

var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"}

func (e *EndSession) serve(c *gin.Context) {
	params, form, ok := e.readParams(c)
	if !ok {
		return
	}
	req, ok := e.parse(c, params)
	if !ok {
		return
	}
	a := e.a
	si, err := a.signedIn(c)
	if err != nil {
		a.serverError(c, nil, err)
		return
	}
	switch {
	case si == nil:
		// Nothing to end: done, as far as the relying party is concerned.
	case req.hint != nil && e.hintNames(c, req.hint, si.user.ID):
	case form == nil || params.Get("confirm") == "":
		e.confirm(c, req, si)
		return
	case !equalSecret(form.Get("csrf"), si.csrf):
		a.events.Warn(c.Request.Context(), audit.CSRFRejected, audit.UserID(si.user.ID), audit.Reason("logout confirmation"))
		a.errorPage(c, http.StatusForbidden, "invalid_request", "This request did not come from this site's sign-out page, so it was refused.")
		return
	}
	if si != nil {
		if err := a.d.Sessions.DeleteSession(c.Request.Context(), si.hash); err != nil {
			a.serverError(c, nil, err)
			return
		}
		a.tellSignedOut(c, si)
	}
	a.setCookie(c, a.sessionCookie, "", -1)
	e.finish(c, req)
}

// hintNames reports whether the id_token_hint h names userID, as the
// subject h's client sees (pairwise clients see no user ID). A client gone
// or disabled names no one: the user is asked to confirm.
func (e *EndSession) hintNames(c *gin.Context, h *grants.IDTokenHint, userID string) bool {
	client, err := e.a.d.Clients.Lookup(c.Request.Context(), h.ClientID)
	if err != nil {
		return false
	}
	return h.Subject == e.hints.Subject(client, userID)
}

// readParams returns the request's parameters: the query of a GET, the
// query and form of a POST (the confirmation form posts to a URL carrying
// the request). form is nil for a GET.
func (e *EndSession) readParams(c *gin.Context) (params, form url.Values, ok bool) {
	if len(c.Request.URL.RawQuery) > maxQueryBytes {
		e.a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-out link is too long.")
		return nil, nil, false
	}
	params, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		e.a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-out link is malformed.")
		return nil, nil, false
	}
	if c.Request.Method != http.MethodPost {
		return params, nil, true
	}
	if form, ok = e.a.readForm(c); !ok {
		return nil, nil, false
	}
	for _, k := range logoutParams {
		if v, in := form[k]; in {
			params[k] = v
		}
	}
	return params, form, true
}

// parse validates the parameters (RP-Initiated Logout 1.0 §2, §3).
func (e *EndSession) parse(c *gin.Context, q url.Values) (*logoutRequest, bool) {
	a := e.a
	for _, k := range logoutParams {
		if len(q[k]) > 1 {
			a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-out link repeats a parameter.")
			return nil, false
		}
	}
	req := &logoutRequest{state: q.Get("state"), query: url.Values{}}
	for _, k := range logoutParams {
		if v := q.Get(k); v != "" {
			req.query.Set(k, v)
		}
	}
	clientID := q.Get("client_id")
	if raw := q.Get("id_token_hint"); raw != "" {
		h, err := e.hints.ParseIDTokenHint(raw)
		if err != nil {
			a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-out link carries a token this site did not issue.")
			return nil, false
		}
		if clientID != "" && clientID != h.ClientID {
			a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-out link's token was issued to another application.")
			return nil, false
		}
		req.hint, clientID = &h, h.ClientID
	}
	uri := q.Get("post_logout_redirect_uri")
	if uri == "" || clientID == "" {
		return req, true
	}
	client, err := a.d.Clients.Lookup(c.Request.Context(), clientID)
	switch {
	case errors.Is(err, clients.ErrAuthenticationFailed):
	case err != nil:
		a.serverError(c, nil, err)
		return nil, false
	case slices.Contains(client.PostLogoutRedirectURIs, uri):
		req.returnTo = uri
	}
	return req, true
}

// confirm asks the signed-in user whether to sign out.
func (e *EndSession) confirm(c *gin.Context, req *logoutRequest, si *signedIn) {
	a := e.a
	d := a.page("Sign out")
	d.SignedIn, d.Username, d.CSRF = true, si.user.Username, si.csrf
	q := url.Values{"confirm": {"1"}}
	for k, v := range req.query {
		q[k] = v
	}
	d.Action = a.prefix + "/end_session?" + q.Encode()
	a.pages.render(c, http.StatusOK, "signout", d, req.returnTo)
}

// finish sends the user back to the relying party, with its state, or
// shows the signed-out page when no registered URI was given.
func (e *EndSession) finish(c *gin.Context, req *logoutRequest) {
	if req.returnTo == "" {
		e.a.pages.render(c, http.StatusOK, "signout", e.a.page("Signed out"), "")
		return
	}
	to := req.returnTo
	if req.state != "" {
		to = appendQuery(to, url.Values{"state": {req.state}})
	}
	e.a.redirect(c, to)
}

// tellSignedOut passes an ended session on to back-channel logout.
func (a *Authorize) tellSignedOut(c *gin.Context, si *signedIn) {
	if a.d.SignedOut != nil {
		a.d.SignedOut(c.Request.Context(), si.user.ID, si.sess.ID)
	}
}
