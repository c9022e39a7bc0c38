package app_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authserver/config"
	"authserver/store/redistest"
)

// mcpResult is what interop/mcp-client.mjs prints at the end.
type mcpResult struct {
	AuthorizationURL      string         `json:"authorization_url"`
	CallbackIss           string         `json:"callback_iss"`
	RedirectURI           string         `json:"redirect_uri"`
	ClientID              string         `json:"client_id"`
	ClientSecret          *string        `json:"client_secret"`
	RegisteredAuthMethod  *string        `json:"registered_auth_method"`
	Registrations         int            `json:"registrations"`
	Tools                 []string       `json:"tools"`
	Whoami                mcpWhoami      `json:"whoami"`
	AccessToken           string         `json:"access_token"`
	RefreshToken          string         `json:"refresh_token"`
	Claims                map[string]any `json:"claims"`
	WhoamiAfterRefresh    mcpWhoami      `json:"whoami_after_refresh"`
	TokenResponses        int            `json:"token_responses"`
	RefreshedAccessToken  string         `json:"refreshed_access_token"`
	RefreshedRefreshToken string         `json:"refreshed_refresh_token"`
	RefreshedClaims       map[string]any `json:"refreshed_claims"`
}

// mcpWhoami is the whoami tool's answer: who the MCP server was told the
// caller is.
type mcpWhoami struct {
	Sub      string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scope    []string `json:"scope"`
}

type mcpOptions struct {
	// metadataDocument has the client use a client ID metadata document
	// (an https URL as its client_id) instead of registering.
	metadataDocument bool
	// unregistered leaves the MCP URL out of the node's resources: the
	// authorization request the SDK builds is then refused.
	unregistered bool
	redisURL     string
}

// mcpRun is one run of the SDK client against a node.
type mcpRun struct {
	n       *node
	front   *mcpFront
	userID  string
	res     mcpResult
	issued  map[string]any // the first token response
	docURL  string         // the client ID metadata document, if any
	docHits int
	authErr string // with unregistered: the error the client reported
}

const mcpClientName = "Interop MCP Client"

// runMCPClient starts a node, the Node MCP server behind the Go front, and
// the SDK client with only the front's URL; it drives the sign-in in
// Chromium when the client asks, and returns what the client saw.
func runMCPClient(t *testing.T, o mcpOptions) *mcpRun {
	t.Helper()
	dir := mcpInteropDir(t)
	front := listenMCPFront(t)
	r := &mcpRun{front: front}

	// The client ID metadata document, on https (a client_id URL must be),
	// with a CA the node is told to trust. Its redirect URI is the
	// client's loopback port, known once the client runs.
	var (
		docMu       sync.Mutex
		docRedirect string
		caFile      string
	)
	if o.metadataDocument {
		doc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path != "/mcp-client.json" {
				http.NotFound(w, req)
				return
			}
			docMu.Lock()
			r.docHits++
			redirect := docRedirect
			docMu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"client_id": r.docURL, "client_name": mcpClientName,
				"redirect_uris": []string{redirect}, "grant_types": []string{"authorization_code", "refresh_token"},
				"response_types": []string{"code"}, "token_endpoint_auth_method": "none",
			})
		}))
		t.Cleanup(doc.Close)
		r.docURL = doc.URL + "/mcp-client.json"
		caFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: doc.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	r.n = startNode(t, func(c *config.Config) {
		c.Scopes = append(c.Scopes, mcpScope)
		// Short, so the client sees its token expire and refreshes.
		c.Tokens.AccessTTL = 5 * time.Second
		if o.redisURL != "" {
			c.Redis.URL = o.redisURL
		}
		if o.metadataDocument {
			// Metadata documents are on by default; the test CA and the
			// loopback host let the node fetch this one.
			c.Fetch.CAFile, c.Fetch.AllowLoopback = caFile, true
			c.ClientIDMetadata.Enabled = true
			return
		}
		// Registration with no initial access token, for public clients.
		c.Registration.Anonymous = true
	})
	if o.metadataDocument {
		// The SDK uses its client_metadata_url only when the server says
		// it takes one; otherwise it registers, which this node refuses.
		meta := frontJSON(t, r.n.base+"/.well-known/oauth-authorization-server")
		if meta["client_id_metadata_document_supported"] != true {
			t.Fatalf("the node's metadata lacks client_id_metadata_document_supported: true")
		}
	}
	// The MCP URL as a registered resource (RFC 8707): the resource the
	// SDK names becomes the tokens' aud.
	if !o.unregistered {
		r.n.admin(t, "POST", "/admin/resources", map[string]any{
			"uri": front.URL, "name": "Interop MCP server", "scopes": []string{mcpScope},
		})
	}
	const pass = "mcp user's long password"
	u := r.n.admin(t, "POST", "/admin/users", map[string]any{"username": "mcp-user", "password": pass})
	r.userID = u["id"].(string)
	front.serve(t, r.n.app.Config.Issuer, startMCPServer(t, dir))

	client := startScript(t, dir, "mcp-client.mjs", 90*time.Second)
	var redirect string
	lineField(t, client.next(15*time.Second), "redirect_uri", &redirect)
	docMu.Lock()
	docRedirect = redirect
	docMu.Unlock()
	in := map[string]any{"server_url": front.URL, "client_name": mcpClientName}
	if r.docURL != "" {
		in["client_metadata_url"] = r.docURL
	}
	client.send(in)

	var authURL string
	lineField(t, client.next(20*time.Second), "authorization_url", &authURL)
	chrome := newChrome(t)
	if o.unregistered {
		// Refused before any page: the browser goes straight back to the
		// client with the error, and the client gives up.
		steps(t, chrome, "open the authorization URL the SDK built, and land on the client's callback with an error",
			chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("#error")))
		msg := client.nextRaw(15 * time.Second)
		lineField(t, msg, "error", &r.authErr)
		r.res.AuthorizationURL = authURL
		if code := client.exit(); code == 0 {
			t.Fatalf("mcp-client.mjs exited 0 after %q", r.authErr)
		}
		return r
	}
	steps(t, chrome, "open the authorization URL the SDK built",
		chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS("#username")))
	if got := text(t, chrome, "main"); !strings.Contains(got, mcpClientName) {
		t.Errorf("the sign-in page should name the client %q: %q", mcpClientName, got)
	}
	signInOnPage(t, chrome, "mcp-user", pass, "#allow")
	consent := text(t, chrome, "main")
	if !strings.Contains(consent, mcpClientName) || !strings.Contains(consent, mcpScope) || !strings.Contains(consent, front.URL) {
		t.Errorf("the consent page should name the client, %s and the resource %s: %q", mcpScope, front.URL, consent)
	}
	if o.metadataDocument {
		doc, _ := url.Parse(r.docURL)
		if !strings.Contains(consent, "describes itself from "+doc.Host) || !strings.Contains(consent, "not been verified") {
			t.Errorf("the consent page should say the client is described by %s, unverified: %q", doc.Host, consent)
		}
	}
	steps(t, chrome, "allow, and land on the client's loopback callback",
		chromedp.Click(chromedp.CSS("#allow")), chromedp.WaitVisible(chromedp.CSS("#back")))

	lineField(t, client.next(15*time.Second), "token", &r.issued)
	// Checked as soon as it arrives, while it is fresh: with another aud
	// the rest of the run cannot work (the front refuses it).
	access, _ := r.issued["access_token"].(string)
	claims, err := r.n.app.Issuer.Verify(access)
	if err != nil {
		t.Fatalf("the access token the SDK got does not verify: %v", err)
	}
	if aud := []string(claims.Audience); !slices.Equal(aud, []string{front.URL}) {
		t.Fatalf("the access token's aud is %q, want exactly [%s], the resource the SDK asked for (RFC 8707)", aud, front.URL)
	}

	lineField(t, client.next(45*time.Second), "result", &r.res)
	if code := client.exit(); code != 0 {
		t.Fatalf("mcp-client.mjs exited %d after its result; stderr: %s", code, client.stderr)
	}
	return r
}

// check asserts what every run shares: the request the SDK built, the
// tool call's identity, the tokens the front let through and the refresh.
func (r *mcpRun) check(t *testing.T) {
	t.Helper()
	res, n, front := r.res, r.n, r.front
	issuer := n.app.Config.Issuer

	// The authorization request: PKCE S256, state, the resource indicator
	// (RFC 8707) and the scope the protected resource metadata names.
	au, err := url.Parse(res.AuthorizationURL)
	if err != nil || !strings.HasPrefix(res.AuthorizationURL, n.base+"/authorize?") {
		t.Fatalf("authorization URL %q (%v), want one at %s/authorize", res.AuthorizationURL, err, n.base)
	}
	q := au.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("state") == "" || q.Get("client_id") != res.ClientID || q.Get("redirect_uri") != res.RedirectURI {
		t.Errorf("authorization request %v: want code, PKCE S256, a state, client_id %s, redirect_uri %s", q, res.ClientID, res.RedirectURI)
	}
	if q.Get("resource") != front.URL {
		t.Errorf("authorization request resource %q, want the MCP URL %s (from the protected resource metadata)", q.Get("resource"), front.URL)
	}
	if q.Get("scope") != mcpScope {
		t.Errorf("authorization request scope %q, want %s (scopes_supported of the protected resource metadata)", q.Get("scope"), mcpScope)
	}
	if res.CallbackIss != issuer {
		t.Errorf("callback iss %q, want %s (RFC 9207)", res.CallbackIss, issuer)
	}
	if res.ClientSecret != nil {
		t.Errorf("a public client got a client_secret")
	}

	// The tool call reached the MCP server as the user, through the SDK's
	// client, with the scope.
	if !slices.Contains(res.Tools, "whoami") {
		t.Errorf("tools %v, want whoami", res.Tools)
	}
	for name, w := range map[string]mcpWhoami{"first": res.Whoami, "after the refresh": res.WhoamiAfterRefresh} {
		if w.Sub != r.userID || w.ClientID != res.ClientID || !slices.Contains(w.Scope, mcpScope) {
			t.Errorf("whoami %s: %+v, want sub %s, client_id %s and scope %s", name, w, r.userID, res.ClientID, mcpScope)
		}
	}
	if res.Claims["sub"] != r.userID || res.Claims["client_id"] != res.ClientID || res.Claims["iss"] != issuer || !audIs(res.Claims["aud"], front.URL) {
		t.Errorf("access token claims %v, want sub %s, client_id %s, iss %s, aud exactly %s", res.Claims, r.userID, res.ClientID, issuer, front.URL)
	}
	if res.RefreshToken == "" {
		t.Fatal("the token response has no refresh_token")
	}
	if res.AccessToken != r.issued["access_token"] {
		t.Errorf("the result's first access token is not the one printed after the code")
	}

	// The refresh: two token responses (the code, then the refresh the
	// SDK made on the front's 401 for the expired token), a new access
	// token and a rotated refresh token, for the same user and resource.
	if res.TokenResponses != 2 {
		t.Errorf("%d token responses saved, want 2 (the code, then one refresh)", res.TokenResponses)
	}
	if res.RefreshedAccessToken == res.AccessToken || res.RefreshedRefreshToken == "" || res.RefreshedRefreshToken == res.RefreshToken {
		t.Errorf("the refresh did not give a new access token and a rotated refresh token")
	}
	refreshed, err := n.app.Issuer.Verify(res.RefreshedAccessToken)
	if err != nil {
		t.Fatalf("the refreshed access token does not verify: %v", err)
	}
	if refreshed.Subject != r.userID || !slices.Equal([]string(refreshed.Audience), []string{front.URL}) || refreshed.Scope != mcpScope {
		t.Errorf("refreshed token sub %s aud %q scope %q, want %s, exactly [%s], %s", refreshed.Subject, refreshed.Audience, refreshed.Scope, r.userID, front.URL, mcpScope)
	}

	// What the front saw: the first token until it expired, then the
	// refreshed one; 401s for the first, tokenless request and for the
	// expired token.
	accepted, refused := front.tokens()
	firstJTI, _ := res.Claims["jti"].(string)
	refreshedJTI, _ := res.RefreshedClaims["jti"].(string)
	if len(accepted) < 2 || firstJTI == "" || refreshedJTI == "" || firstJTI == refreshedJTI {
		t.Fatalf("the front let through %d requests; jti %q then %q", len(accepted), firstJTI, refreshedJTI)
	}
	seenRefreshed := false
	for i, tok := range accepted {
		switch tok.JTI {
		case firstJTI:
			if seenRefreshed {
				t.Errorf("request %d used the first token after the refreshed one", i)
			}
		case refreshedJTI:
			seenRefreshed = true
		default:
			t.Errorf("request %d carried a token (jti %s) the client never got", i, tok.JTI)
		}
		if !slices.Equal(tok.Audience, []string{front.URL}) || tok.Subject != r.userID {
			t.Errorf("request %d: token aud %q sub %s", i, tok.Audience, tok.Subject)
		}
	}
	if accepted[0].JTI != firstJTI || !seenRefreshed {
		t.Errorf("the front did not see the first token first and the refreshed one later")
	}
	if refused < 2 {
		t.Errorf("the front answered 401 %d times, want at least 2 (no token, then the expired one)", refused)
	}
}

// checkRegistered asserts the SDK registered once, as a public client
// with its loopback redirect URI, and that the node holds that client.
func (r *mcpRun) checkRegistered(t *testing.T) {
	t.Helper()
	res := r.res
	if res.Registrations != 1 || res.ClientID == "" {
		t.Errorf("registrations %d, client_id %q: want one dynamic registration", res.Registrations, res.ClientID)
	}
	if res.RegisteredAuthMethod == nil || *res.RegisteredAuthMethod != "none" {
		t.Errorf("registered token_endpoint_auth_method %v, want none", res.RegisteredAuthMethod)
	}
	c := r.n.admin(t, "GET", "/admin/clients/"+res.ClientID, nil)
	if c["name"] != mcpClientName || !audIs(c["redirect_uris"], res.RedirectURI) {
		t.Errorf("the registered client %v, want name %q and redirect_uris [%s]", c, mcpClientName, res.RedirectURI)
	}
}

// checkFront asserts the front's answers to requests the SDK did not
// make: its metadata, no token, and a token for the node's default
// audience when that is not the MCP URL.
func checkFront(t *testing.T, n *node, front *mcpFront) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	challenge := `resource_metadata="` + front.validator.MetadataURL() + `"`

	meta := frontJSON(t, front.validator.MetadataURL())
	if meta["resource"] != front.URL || !audIs(meta["authorization_servers"], n.app.Config.Issuer) {
		t.Errorf("protected resource metadata %v, want resource %s and authorization_servers [%s]", meta, front.URL, n.app.Config.Issuer)
	}
	if status, www := mcpPost(t, front.URL, ""); status != http.StatusUnauthorized || !strings.Contains(www, challenge) {
		t.Errorf("no token: %d %q, want 401 with %s", status, www, challenge)
	}
	if n.app.Config.Tokens.Audience == front.URL {
		return
	}
	tok, err := machineClient(t, n).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, www := mcpPost(t, front.URL, tok.AccessToken); status != http.StatusUnauthorized ||
		!strings.Contains(www, `error="invalid_token"`) || !strings.Contains(www, challenge) {
		t.Errorf("a token for the node's audience %s: %d %q, want 401 invalid_token with %s", n.app.Config.Tokens.Audience, status, www, challenge)
	}
}

// machineClient registers a client_credentials client with the MCP scope.
func machineClient(t *testing.T, n *node) *clientcredentials.Config {
	t.Helper()
	m2m := n.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "machine", "grant_types": []string{"client_credentials"}, "scopes": []string{mcpScope},
	})
	return &clientcredentials.Config{ClientID: m2m["id"].(string), ClientSecret: m2m["client_secret"].(string),
		TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader, Scopes: []string{mcpScope}}
}

// checkOtherResource asks the node for a token for another registered
// resource (RFC 8707 at /token) and presents it to the front,
// which must refuse it.
func checkOtherResource(t *testing.T, n *node, front *mcpFront) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other := "http://127.0.0.1:1/other-api"
	n.admin(t, "POST", "/admin/resources", map[string]any{"uri": other, "name": "Another API", "scopes": []string{mcpScope}})
	cc := machineClient(t, n)
	cc.EndpointParams = url.Values{"resource": {other}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("a client_credentials token for %s: %v", other, err)
	}
	claims, err := n.app.Issuer.Verify(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal([]string(claims.Audience), []string{other}) {
		t.Errorf("a token asked for resource %s has aud %q", other, claims.Audience)
	}
	if status, www := mcpPost(t, front.URL, tok.AccessToken); status != http.StatusUnauthorized || !strings.Contains(www, `error="invalid_token"`) {
		t.Errorf("a token for %s (aud %q): %d %q, want 401 invalid_token", other, claims.Audience, status, www)
	}
}

// The official MCP TypeScript SDK, unmodified, connects to an MCP server
// behind package resource with nothing but its URL: discovery from the
// 401, anonymous registration, authorization with PKCE and resource
// through the sign-in pages in Chromium, a tool call, and a refresh when
// the token expires. The node's tokens.audience is left as it is: the
// MCP URL must become the aud because the SDK asked for it as resource.
func TestMCPClientConnects(t *testing.T) {
	r := runMCPClient(t, mcpOptions{})
	r.check(t)
	r.checkRegistered(t)
	checkFront(t, r.n, r.front)
	checkOtherResource(t, r.n, r.front)
}

// The same on Redis.
func TestMCPClientConnectsRedis(t *testing.T) {
	rs := redistest.StartStandalone(t)
	r := runMCPClient(t, mcpOptions{redisURL: rs.URL()})
	r.check(t)
	r.checkRegistered(t)
	checkFront(t, r.n, r.front)
}

// The SDK with a client ID metadata document: its client_id is an https
// URL the node fetches the client's metadata from, so nothing registers.
func TestMCPClientConnectsMetadataDocument(t *testing.T) {
	r := runMCPClient(t, mcpOptions{metadataDocument: true})
	r.check(t)
	if r.res.ClientID != r.docURL || r.res.Whoami.ClientID != r.docURL {
		t.Errorf("client_id %q (whoami %q), want the metadata document's URL %s", r.res.ClientID, r.res.Whoami.ClientID, r.docURL)
	}
	if r.res.RegisteredAuthMethod != nil {
		t.Errorf("the SDK registered (token_endpoint_auth_method %v) instead of using the document", *r.res.RegisteredAuthMethod)
	}
	if r.docHits == 0 {
		t.Error("the node never fetched the client ID metadata document")
	}
}

// The SDK asks for the MCP URL as its resource; when the node has no such
// resource it refuses the authorization request (RFC 8707 invalid_target)
// at the client's redirect URI, before any sign-in, and nothing reaches
// the MCP server.
func TestMCPClientUnregisteredResource(t *testing.T) {
	r := runMCPClient(t, mcpOptions{unregistered: true})
	if !strings.Contains(r.authErr, "invalid_target") {
		t.Errorf("the client's error %q, want invalid_target", r.authErr)
	}
	t.Logf("the SDK client: %s", r.authErr)
	if q := mustQuery(t, r.res.AuthorizationURL); q.Get("resource") != r.front.URL {
		t.Errorf("authorization request resource %q, want %s", q.Get("resource"), r.front.URL)
	}
	if accepted, refused := r.front.tokens(); len(accepted) != 0 || refused == 0 {
		t.Errorf("the front let %d requests through and refused %d: want none through, the first refused", len(accepted), refused)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// The front refuses requests without a token and tokens for another
// audience, with the challenge an MCP client starts its discovery from.
func TestMCPFrontRefusesOtherAudiences(t *testing.T) {
	dir := mcpInteropDir(t)
	front := listenMCPFront(t)
	n := startNode(t, func(c *config.Config) { c.Scopes = append(c.Scopes, mcpScope) })
	front.serve(t, n.app.Config.Issuer, startMCPServer(t, dir))
	checkFront(t, n, front)
	if accepted, _ := front.tokens(); len(accepted) != 0 {
		t.Errorf("the front let %d requests through", len(accepted))
	}
}
