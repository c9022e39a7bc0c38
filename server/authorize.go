package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"authserver/audit"
	"authserver/clients"
	"authserver/grants"
	"authserver/ratelimit"
	"authserver/resources"
	"authserver/sessions"
	"authserver/store"
	"authserver/users"
)

// AuthorizeConfig holds the authorization endpoint's policies.
type AuthorizeConfig struct {
	// Issuer is sent as iss with every authorization response (RFC 9207);
	// an https issuer makes the cookies Secure.
	Issuer     string
	SessionTTL time.Duration
	// PasswordLimits limit failed sign-ins; the password grant uses the
	// same, so the two cannot be combined to get more guesses.
	PasswordLimits ratelimit.PasswordLimits
	// DeviceCookieKey signs device cookies (device.go); empty turns them
	// off, leaving every browser an unknown source. DeviceCookieTTL is
	// their lifetime.
	DeviceCookieKey []byte
	DeviceCookieTTL time.Duration
}

// CodeIssuer mints authorization codes, holds the PKCE policy and knows
// the ID Tokens it issued, for id_token_hint (*grants.Endpoint).
type CodeIssuer interface {
	IssueCode(ctx context.Context, g grants.CodeGrant) (string, error)
	PKCERequired(c *clients.Client) bool
	VerifyIDTokenHint(raw, clientID string) (subject string, err error)
	// Subject is the sub c sees for userID: an id_token_hint's sub is
	// compared with it, not with the user ID (pairwise clients).
	Subject(c *clients.Client, userID string) string
	// CheckResources checks an authorization request's RFC 8707
	// resources against the registry and the granted scope.
	CheckResources(ctx context.Context, values []string, granted string) ([]resources.Resource, error)
}

// UserDirectory checks passwords and finds signed-in users (*users.Service).
type UserDirectory interface {
	Authenticate(ctx context.Context, username, password string) (*users.User, error)
	Current(ctx context.Context, id string) (*users.User, error)
}

// AuthorizeDeps are the authorization endpoint's collaborators.
type AuthorizeDeps struct {
	Clients  *clients.Registry
	Users    UserDirectory
	Sessions sessions.Store
	Limiter  *ratelimit.Limiter
	Codes    CodeIssuer
	Log      *slog.Logger
	// SignedOut is told when a user's session sid ends here (back-channel
	// logout); nil tells no one. It must not block.
	SignedOut func(ctx context.Context, userID, sid string)
}

// Authorize serves the authorization endpoint (RFC 6749 §4.1, RFC 7636,
// RFC 9700 §2.1) and its pages: sign-in, consent and sign-out.
//
// The authorization request travels in the query string of every step: the
// forms post back to a URL carrying it, and each step validates it again,
// so no half-finished request is kept on the server.
type Authorize struct {
	cfg    AuthorizeConfig
	d      AuthorizeDeps
	events *audit.Logger
	pages  *pages
	prefix string // the issuer's path
	brand  string // the issuer's host
	secure bool
	// Cookie names: with the __Host- prefix (Secure, Path=/, no Domain)
	// when the issuer is https.
	sessionCookie, csrfCookie, deviceCookie string
	now                                     func() time.Time
}

const (
	maxQueryBytes = 8 << 10
	maxFormBytes  = 16 << 10
)

// NewAuthorize returns the authorization endpoint.
func NewAuthorize(cfg AuthorizeConfig, d AuthorizeDeps) *Authorize {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	a := &Authorize{cfg: cfg, d: d, events: audit.New(d.Log), pages: newPages(d.Log), now: time.Now,
		sessionCookie: "authserver_session", csrfCookie: "authserver_csrf", deviceCookie: "authserver_device"}
	if u, err := url.Parse(cfg.Issuer); err == nil {
		a.prefix = strings.TrimSuffix(u.Path, "/")
		a.brand = u.Host
		a.secure = u.Scheme == "https"
	}
	if a.secure {
		a.sessionCookie, a.csrfCookie, a.deviceCookie = "__Host-"+a.sessionCookie, "__Host-"+a.csrfCookie, "__Host-"+a.deviceCookie
	}
	return a
}

func (a *Authorize) routes(r gin.IRoutes) {
	r.GET("/authorize", a.authorize)
	r.POST("/authorize/login", a.login)
	r.POST("/authorize/consent", a.consent)
	r.GET("/logout", a.signOutPage)
	r.POST("/logout", a.signOut)
	r.GET("/assets/pages.css", a.pages.serveCSS)
}

// authRequest is a validated authorization request.
type authRequest struct {
	client      *clients.Client
	redirectURI string
	state       string
	scope       string // what is granted: the request's, or all the client's
	resources   []resources.Resource
	challenge   string
	// dpopJKT is the dpop_jkt the code is bound to (RFC 9449 §10).
	dpopJKT string
	// nonce is the OpenID Connect nonce, echoed in the ID Token; the
	// query it came in is carried through sign-in and consent (encode).
	nonce  string
	prompt []string
	// OpenID Connect requests only (Core §3.1.2.1): maxAge is max_age
	// (-1 when absent), loginHint prefills the sign-in page, hintSubject
	// is the sub of a verified id_token_hint.
	maxAge      int64
	loginHint   string
	hintSubject string
	query       url.Values
}

func (r *authRequest) prompts(p string) bool { return slices.Contains(r.prompt, p) }

// encode is the request as a query string, its prompt values less drop and
// plus add: a sign-in that prompt=login asked for is done once it is done,
// and "use another account" asks for one.
func (r *authRequest) encode(drop, add string) string {
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if drop == "login" {
		// The fresh sign-in answers max_age too; kept, max_age=0 would
		// ask for it again.
		q.Del("max_age")
	}
	prompt := slices.DeleteFunc(slices.Clone(r.prompt), func(p string) bool { return p == drop })
	if add != "" && !slices.Contains(prompt, add) {
		prompt = append(prompt, add)
	}
	q.Del("prompt")
	if len(prompt) > 0 {
		q.Set("prompt", strings.Join(prompt, " "))
	}
	return q.Encode()
}

// parseRequest validates the authorization request in the URL. Until the
// client and its redirect URI are known good, errors are shown on a page
// and never redirected (RFC 6749 §4.1.2.1); after that they go back to the
// client. It reports whether the request may go on.
func (a *Authorize) parseRequest(c *gin.Context) (*authRequest, bool) {
	raw := c.Request.URL.RawQuery
	if len(raw) > maxQueryBytes {
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-in link is too long.")
		return nil, false
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-in link is malformed.")
		return nil, false
	}
	if len(q["client_id"]) > 1 || len(q["redirect_uri"]) > 1 {
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-in link names more than one application or return address.")
		return nil, false
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "The sign-in link does not say which application it is for.")
		return nil, false
	}
	client, err := a.d.Clients.Lookup(c.Request.Context(), clientID)
	if errors.Is(err, clients.ErrAuthenticationFailed) {
		a.errorPage(c, http.StatusBadRequest, "invalid_client", unknownClientMessage(err))
		return nil, false
	}
	if err != nil {
		a.serverError(c, nil, err)
		return nil, false
	}
	if !matchRedirectURI(client.RedirectURIs, q.Get("redirect_uri")) {
		// The URI is not echoed: it may be an attacker's text.
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "The return address in the sign-in link is not registered for this application.")
		return nil, false
	}
	req := &authRequest{client: client, redirectURI: q.Get("redirect_uri"), state: q.Get("state"), nonce: q.Get("nonce"), maxAge: -1, query: q}

	// From here on the client is told, at its own redirect URI.
	for name, v := range q {
		if len(v) > 1 && name != "resource" { // RFC 8707 §2: resource may repeat
			return a.refuse(c, req, "invalid_request", "a parameter is repeated") // not named: the name is the caller's text
		}
	}
	if !client.AllowsGrant(clients.GrantAuthorizationCode) {
		return a.refuse(c, req, "unauthorized_client", "this client may not use the authorization_code grant")
	}
	switch q.Get("response_type") {
	case "code":
	case "":
		return a.refuse(c, req, "invalid_request", "response_type is required")
	default:
		return a.refuse(c, req, "unsupported_response_type", "only response_type=code is supported")
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return a.refuse(c, req, "invalid_request", "only response_mode=query is supported")
	}
	scope, ok := client.GrantScope(q.Get("scope"))
	if !ok {
		return a.refuse(c, req, "invalid_scope", "the requested scope is unknown, malformed, or not allowed for this client")
	}
	req.scope = scope
	if !a.parseResources(c, req) {
		return nil, false
	}

	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return a.refuse(c, req, "invalid_request", "code_challenge_method without code_challenge")
	case challenge == "" && a.d.Codes.PKCERequired(client):
		return a.refuse(c, req, "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
	case challenge != "" && method != "S256":
		// RFC 7636 §4.3: a missing method means plain, which RFC 9700
		// §2.1.1 retires.
		return a.refuse(c, req, "invalid_request", "code_challenge_method must be S256")
	case challenge != "" && !grants.ValidS256Challenge(challenge):
		return a.refuse(c, req, "invalid_request", "code_challenge is not a valid S256 challenge")
	}
	req.challenge = challenge
	if jkt := q.Get("dpop_jkt"); jkt != "" && !grants.ValidJKT(jkt) {
		return a.refuse(c, req, "invalid_request", "dpop_jkt is not a JWK SHA-256 thumbprint")
	}
	req.dpopJKT = q.Get("dpop_jkt")

	for _, p := range strings.Fields(q.Get("prompt")) {
		switch p {
		case "none", "login", "consent", "select_account":
			if !slices.Contains(req.prompt, p) {
				req.prompt = append(req.prompt, p)
			}
		default:
			return a.refuse(c, req, "invalid_request", "unsupported prompt value")
		}
	}
	if req.prompts("none") && len(req.prompt) > 1 {
		return a.refuse(c, req, "invalid_request", "prompt=none cannot be combined with other values")
	}
	if slices.Contains(strings.Fields(req.scope), "openid") {
		return a.parseOpenID(c, req)
	}
	return req, true
}

// maxMaxAge caps max_age (about 136 years), so it fits a time.Duration.
const maxMaxAge = 1 << 32

// maxLoginHint bounds the login_hint shown on the sign-in page.
const maxLoginHint = 256

// parseOpenID reads the OpenID Connect parameters of Core §3.1.2.1. Plain
// OAuth requests never get here, so they behave as before. ui_locales,
// claims_locales, acr_values and display are tolerated and ignored.
func (a *Authorize) parseOpenID(c *gin.Context, req *authRequest) (*authRequest, bool) {
	q := req.query
	if req.prompts("select_account") {
		return a.refuse(c, req, "account_selection_required", "account selection is not supported")
	}
	if v, ok := q["max_age"]; ok {
		if !isDigits(v[0]) {
			return a.refuse(c, req, "invalid_request", "max_age must be a non-negative integer")
		}
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || n > maxMaxAge {
			n = maxMaxAge // digits too many for int64: any sign-in is young enough
		}
		req.maxAge = n
	}
	if h := q.Get("login_hint"); len(h) <= maxLoginHint && printable(h) {
		req.loginHint = h // otherwise ignored: it is only a hint
	}
	if raw := q.Get("id_token_hint"); raw != "" {
		sub, err := a.d.Codes.VerifyIDTokenHint(raw, req.client.ID)
		if err != nil {
			return a.refuse(c, req, "invalid_request", "id_token_hint is not an ID Token this server issued to this client")
		}
		req.hintSubject = sub
	}
	return req, true
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// refuse sends an error back to the client's (validated) redirect URI.
func (a *Authorize) refuse(c *gin.Context, req *authRequest, code, desc string) (*authRequest, bool) {
	a.redirectError(c, req, code, desc)
	return nil, false
}

func (a *Authorize) redirectError(c *gin.Context, req *authRequest, code, desc string) {
	v := url.Values{"error": {code}, "iss": {a.cfg.Issuer}}
	if desc != "" {
		v.Set("error_description", grants.ErrorDescription(desc))
	}
	if req.state != "" {
		v.Set("state", req.state)
	}
	a.redirect(c, appendQuery(req.redirectURI, v))
}

// redirect ends a step with a redirect: 303 after a form post, so the
// browser does not post the form on to the client (RFC 9700 §4.11).
func (a *Authorize) redirect(c *gin.Context, location string) {
	status := http.StatusFound
	if c.Request.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(status, location)
	c.Abort()
}

// authorize is GET /authorize, where the client sends the user.
func (a *Authorize) authorize(c *gin.Context) {
	req, ok := a.parseRequest(c)
	if !ok {
		return
	}
	si, err := a.signedIn(c)
	if err != nil {
		a.serverError(c, req, err)
		return
	}
	if why := a.signInNeeded(req, si); why != "" {
		if req.prompts("none") {
			a.redirectError(c, req, "login_required", why)
			return
		}
		a.renderLogin(c, req, http.StatusOK, "", req.loginHint)
		return
	}
	a.afterSignIn(c, req, si)
}

// signInNeeded says why the request needs the sign-in page, or "" when the
// session si will do.
func (a *Authorize) signInNeeded(req *authRequest, si *signedIn) string {
	switch {
	case si == nil:
		return "the user is not signed in"
	case req.prompts("login"):
		return "the client asked for a new sign-in"
	case req.maxAge >= 0 && a.now().Sub(si.sess.AuthTime) > time.Duration(req.maxAge)*time.Second:
		return "the sign-in is older than max_age"
	case req.hintSubject != "" && req.hintSubject != a.d.Codes.Subject(req.client, si.user.ID):
		return "the signed-in user is not the one id_token_hint names"
	}
	return ""
}

// afterSignIn asks for consent when it is needed and otherwise sends the
// client its code.
func (a *Authorize) afterSignIn(c *gin.Context, req *authRequest, si *signedIn) {
	need, err := a.needsConsent(c.Request.Context(), req, si.user)
	if err != nil {
		a.serverError(c, req, err)
		return
	}
	if need {
		if req.prompts("none") {
			a.redirectError(c, req, "consent_required", "the user has not approved this client")
			return
		}
		a.renderConsent(c, req, si)
		return
	}
	a.issueCode(c, req, si)
}

func (a *Authorize) needsConsent(ctx context.Context, req *authRequest, u *users.User) (bool, error) {
	if req.prompts("consent") {
		return true, nil
	}
	if req.client.Unverified() {
		return true, nil // its document may change: a stored consent would outlive what the user saw
	}
	if req.client.FirstParty {
		return false, nil
	}
	granted, err := a.d.Sessions.GetConsent(ctx, u.ID, req.client.ID)
	if errors.Is(err, sessions.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if !granted.Current(u.Generation, req.client.Generation) {
		return true, nil // given before the user or the client was revoked
	}
	for _, s := range strings.Fields(req.scope) {
		if !slices.Contains(granted.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

func (a *Authorize) issueCode(c *gin.Context, req *authRequest, si *signedIn) {
	// Recorded before the code exists, so no client the session signed in
	// to can miss the back-channel logout when the session ends.
	if req.client.BackchannelLogoutURI != "" && si.sess.ID != "" {
		err := a.d.Sessions.AddSessionClient(c.Request.Context(), si.user.ID, sessions.SessionClient{
			SessionID: si.sess.ID, ClientID: req.client.ID, ExpiresAt: si.sess.ExpiresAt,
		})
		if err != nil {
			a.serverError(c, req, err)
			return
		}
	}
	code, err := a.d.Codes.IssueCode(c.Request.Context(), grants.CodeGrant{
		ClientID: req.client.ID, UserID: si.user.ID, RedirectURI: req.redirectURI,
		Scope: req.scope, CodeChallenge: req.challenge, AuthTime: si.sess.AuthTime, Nonce: req.nonce, SessionID: si.sess.ID,
		Resources: resourceIDs(req.resources), UserGeneration: si.sess.UserGeneration, ClientGeneration: req.client.Generation,
		DPoPJKT: req.dpopJKT,
	})
	if err != nil {
		a.serverError(c, req, err)
		return
	}
	v := url.Values{"code": {code}, "iss": {a.cfg.Issuer}}
	if req.state != "" {
		v.Set("state", req.state)
	}
	a.redirect(c, appendQuery(req.redirectURI, v))
}

// login is POST /authorize/login, the sign-in form.
func (a *Authorize) login(c *gin.Context) {
	req, ok := a.parseRequest(c)
	if !ok {
		return
	}
	form, ok := a.readForm(c)
	if !ok {
		return
	}
	if !a.loginCSRFValid(c, form.Get("csrf")) {
		a.events.Warn(c.Request.Context(), audit.CSRFRejected, audit.ClientID(req.client.ID), audit.Reason("sign-in form"))
		a.renderLogin(c, req, http.StatusForbidden, "This page expired or was not sent from this site. Please sign in again.", "")
		return
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		a.renderLogin(c, req, http.StatusBadRequest, "Enter your username and password.", username)
		return
	}
	ctx := c.Request.Context()
	ip := ratelimit.ClientIP(c.Request.RemoteAddr)
	var u *users.User
	err := a.d.Limiter.Guard(ctx, a.cfg.PasswordLimits.Counters(ratelimit.PasswordAttempt{
		Username: username, ClientIP: ip, DeviceID: a.deviceID(c, username),
	}), func() (bool, error) {
		var err error
		u, err = a.d.Users.Authenticate(ctx, username, password)
		if errors.Is(err, users.ErrInvalidCredentials) {
			return false, nil
		}
		return err == nil, err
	})
	var le *ratelimit.LimitedError
	switch {
	case errors.As(err, &le):
		a.events.Warn(ctx, audit.Lockout, audit.ClientID(req.client.ID), audit.Username(username), slog.String("limit", le.Limit), slog.String("ip", ip))
		c.Header("Retry-After", strconv.FormatInt(le.RetryAfterSeconds(), 10))
		a.renderLogin(c, req, http.StatusTooManyRequests, "Too many failed sign-in attempts. Try again later.", username)
		return
	case err != nil:
		a.serverError(c, req, err)
		return
	case u == nil:
		a.events.Warn(ctx, audit.SignInFailed, audit.ClientID(req.client.ID), slog.String("ip", ip))
		// The same words whether the user or the password was wrong.
		a.renderLogin(c, req, http.StatusBadRequest, "Invalid username or password.", username)
		return
	}
	if err := a.startSession(c, u); err != nil {
		a.serverError(c, req, err)
		return
	}
	a.setDeviceCookie(c, u)
	// Post/redirect/get: the next step is GET /authorize, signed in.
	a.redirect(c, a.prefix+"/authorize?"+req.encode("login", ""))
}

// consent is POST /authorize/consent: Allow or Deny.
func (a *Authorize) consent(c *gin.Context) {
	req, ok := a.parseRequest(c)
	if !ok {
		return
	}
	form, ok := a.readForm(c)
	if !ok {
		return
	}
	si, err := a.signedIn(c)
	if err != nil {
		a.serverError(c, req, err)
		return
	}
	if si == nil {
		a.renderLogin(c, req, http.StatusOK, "Your session has ended. Please sign in again.", req.loginHint)
		return
	}
	if !equalSecret(form.Get("csrf"), si.csrf) {
		a.events.Warn(c.Request.Context(), audit.CSRFRejected, audit.ClientID(req.client.ID), audit.UserID(si.user.ID), audit.Reason("consent form"))
		a.errorPage(c, http.StatusForbidden, "invalid_request", "This request did not come from this site's consent page, so it was refused.")
		return
	}
	switch form.Get("decision") {
	case "deny":
		a.redirectError(c, req, "access_denied", "the user denied the request")
	case "allow":
		if err := a.rememberConsent(c.Request.Context(), si.user, req); err != nil {
			a.serverError(c, req, err)
			return
		}
		a.issueCode(c, req, si)
	default:
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "Choose Allow or Deny.")
	}
}

// rememberConsent adds the request's scopes to what the user approved for
// the client, so the next request for them skips the page.
func (a *Authorize) rememberConsent(ctx context.Context, u *users.User, req *authRequest) error {
	scopes := strings.Fields(req.scope)
	prev, err := a.d.Sessions.GetConsent(ctx, u.ID, req.client.ID)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
	case err != nil:
		return err
	case !prev.Current(u.Generation, req.client.Generation):
		// Forgotten by a revocation: only what is approved now counts.
	default:
		for _, s := range prev.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return a.d.Sessions.SaveConsent(ctx, sessions.Consent{
		UserID: u.ID, ClientID: req.client.ID, Scopes: scopes, GrantedAt: a.now().UTC(),
		UserGeneration: u.Generation, ClientGeneration: req.client.Generation,
	})
}

// signOutPage is GET /logout: a button, since signing out changes state
// and so takes a POST with a CSRF token.
func (a *Authorize) signOutPage(c *gin.Context) {
	si, err := a.signedIn(c)
	if err != nil {
		a.serverError(c, nil, err)
		return
	}
	d := a.page("Sign out")
	if si != nil {
		d.SignedIn, d.Username, d.CSRF, d.Action = true, si.user.Username, si.csrf, a.prefix+"/logout"
	}
	a.pages.render(c, http.StatusOK, "signout", d, "")
}

// signOut is POST /logout.
func (a *Authorize) signOut(c *gin.Context) {
	form, ok := a.readForm(c)
	if !ok {
		return
	}
	si, err := a.signedIn(c)
	if err != nil {
		a.serverError(c, nil, err)
		return
	}
	if si != nil {
		if !equalSecret(form.Get("csrf"), si.csrf) {
			a.errorPage(c, http.StatusForbidden, "invalid_request", "This request did not come from this site's sign-out page, so it was refused.")
			return
		}
		if err := a.d.Sessions.DeleteSession(c.Request.Context(), si.hash); err != nil {
			a.serverError(c, nil, err)
			return
		}
		a.tellSignedOut(c, si)
	}
	a.setCookie(c, a.sessionCookie, "", -1)
	a.pages.render(c, http.StatusOK, "signout", a.page("Signed out"), "")
}

// readForm reads a page's form from the body only, size-capped.
func (a *Authorize) readForm(c *gin.Context) (url.Values, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	if err := c.Request.ParseForm(); err != nil {
		a.errorPage(c, http.StatusBadRequest, "invalid_request", "The form could not be read.")
		return nil, false
	}
	return c.Request.PostForm, true
}

func (a *Authorize) page(title string) pageData {
	return pageData{Title: title, Brand: a.brand, Prefix: a.prefix}
}

func (a *Authorize) renderLogin(c *gin.Context, req *authRequest, status int, msg, username string) {
	d := a.page("Sign in")
	d.ClientName, d.Error, d.Username = req.client.Name, msg, username
	d.CSRF = a.loginCSRF(c)
	d.Action = a.prefix + "/authorize/login?" + req.encode("", "")
	a.pages.render(c, status, "login", d, req.redirectURI)
}

func (a *Authorize) renderConsent(c *gin.Context, req *authRequest, si *signedIn) {
	d := a.page("Allow access")
	d.ClientName, d.Username, d.CSRF = req.client.Name, si.user.Username, si.csrf
	d.Action = a.prefix + "/authorize/consent?" + req.encode("", "")
	d.SwitchURL = a.prefix + "/authorize?" + req.encode("", "login")
	for _, s := range strings.Fields(req.scope) {
		d.Scopes = append(d.Scopes, describeScope(s))
	}
	if len(d.Scopes) == 0 {
		d.Scopes = []scopeView{{Description: "Know who you are"}}
	}
	d.Scopes = append(d.Scopes, describeResources(req.resources)...)
	d.RedirectHost = redirectHost(req.redirectURI)
	describeUnverified(&d, req.client)
	a.pages.render(c, http.StatusOK, "consent", d, req.redirectURI)
}

func (a *Authorize) errorPage(c *gin.Context, status int, code, msg string) {
	d := a.page("Cannot continue")
	d.Error, d.Code = msg, code
	a.pages.render(c, status, "error", d, "")
	c.Abort()
}

// serverError answers a failure that is not the request's fault. A store
// outage is 503 with Retry-After: sent back to the client as
// temporarily_unavailable once req (its client and redirect URI) is
// validated (RFC 6749 §4.1.2.1), on the error page before that (req nil).
// Anything else is a logged 500 page.
func (a *Authorize) serverError(c *gin.Context, req *authRequest, err error) {
	if store.IsUnavailable(err) {
		a.d.Log.WarnContext(c.Request.Context(), "authorization endpoint: store unavailable", "path", c.Request.URL.Path, "err", err)
		c.Header("Retry-After", strconv.Itoa(int(store.RetryAfter/time.Second)))
		if req != nil {
			a.redirectError(c, req, "temporarily_unavailable", "the service is temporarily unavailable; try again in a moment")
			return
		}
		d := a.page("Temporarily unavailable")
		d.Error, d.Code = "The service is temporarily unavailable. Please try again in a moment.", "temporarily_unavailable"
		a.pages.render(c, http.StatusServiceUnavailable, "error", d, "")
		c.Abort()
		return
	}
	a.d.Log.ErrorContext(c.Request.Context(), "authorization endpoint failure", "path", c.Request.URL.Path, "err", err)
	d := a.page("Something went wrong")
	d.Error = "Something went wrong on our side. Please try again in a moment."
	a.pages.render(c, http.StatusInternalServerError, "error", d, "")
	c.Abort()
}

// redirectHost names where the user is sent back to, for the consent page.
func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":" // a native app's private-use scheme
}
