package resource_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"authserver/resource"
)

const photosMetadata = photosAPI + "/.well-known/oauth-protected-resource"

// serve runs req through v.Middleware(scopes...) around a handler that
// echoes the token's subject.
func serve(v *resource.Validator, req *http.Request, scopes ...string) *httptest.ResponseRecorder {
	h := v.Middleware(scopes...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := resource.FromContext(r.Context())
		if !ok {
			http.Error(w, "no token in context", 500)
			return
		}
		_, _ = w.Write([]byte(t.Subject))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func get(auth string) *http.Request {
	req := httptest.NewRequest("GET", "/photos", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

func wantChallenge(t *testing.T, rec *httptest.ResponseRecorder, status int, challenge ...string) {
	t.Helper()
	got := rec.Result().Header.Values("WWW-Authenticate")
	if rec.Code != status || strings.Join(got, "\n") != strings.Join(challenge, "\n") {
		t.Errorf("%d %q\nwant %d %q", rec.Code, got, status, challenge)
	}
}

func TestMiddlewareChallenges(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	clk := newClock()
	v := validator(t, resource.Config{Issuer: stubIssuer, Audience: photosAPI, JWKSURL: as.srv.URL, Now: clk.Now,
		Realm: "photos", RequiredScopes: []string{"photos:read"}})
	good := mint(t, k, claims(clk.Now()), nil)

	rec := serve(v, get("Bearer "+good))
	if rec.Code != 200 || rec.Body.String() != "user-1" {
		t.Fatalf("valid token: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(v, get("bearer  "+good)); rec.Code != 200 {
		t.Errorf("the scheme is case-insensitive: %d", rec.Code)
	}

	// No credentials, or a scheme not supported: no error code.
	bare := `Bearer realm="photos", resource_metadata="` + photosMetadata + `"`
	wantChallenge(t, serve(v, get("")), 401, bare)
	wantChallenge(t, serve(v, get("Basic dXNlcjpwYXNz")), 401, bare)
	wantChallenge(t, serve(v, get("DPoP "+good)), 401, bare) // no DPoPVerifier

	// Bad tokens.
	expired := claims(clk.Now().Add(-time.Hour))
	rec = serve(v, get("Bearer "+mint(t, k, expired, nil)))
	wantChallenge(t, rec, 401, `Bearer realm="photos", error="invalid_token", error_description="token expired", resource_metadata="`+photosMetadata+`"`)
	var body map[string]string
	if json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] != "invalid_token" {
		t.Errorf("body %s", rec.Body)
	}
	otherAud := claims(clk.Now())
	otherAud["aud"] = billingAPI
	wantChallenge(t, serve(v, get("Bearer "+mint(t, k, otherAud, nil))), 401,
		`Bearer realm="photos", error="invalid_token", error_description="token is not for this resource", resource_metadata="`+photosMetadata+`"`)

	// The Config's scope and the route's both count.
	wantChallenge(t, serve(v, get("Bearer "+good), "photos:write"), 403,
		`Bearer realm="photos", error="insufficient_scope", error_description="token lacks scope photos:write", scope="photos:read photos:write", resource_metadata="`+photosMetadata+`"`)
	noScope := claims(clk.Now())
	noScope["scope"] = "invoices:read"
	wantChallenge(t, serve(v, get("Bearer "+mint(t, k, noScope, nil))), 403,
		`Bearer realm="photos", error="insufficient_scope", error_description="token lacks scope photos:read", scope="photos:read", resource_metadata="`+photosMetadata+`"`)

	// Malformed requests.
	invalid := func(desc string) string {
		return `Bearer realm="photos", error="invalid_request", error_description="` + desc + `", resource_metadata="` + photosMetadata + `"`
	}
	both := get("Bearer " + good)
	both.URL.RawQuery = "access_token=" + good
	wantChallenge(t, serve(v, both), 400, invalid("access token sent by more than one method"))
	query := get("")
	query.URL.RawQuery = "access_token=" + good
	wantChallenge(t, serve(v, query), 400, invalid("send the access token in the Authorization header only"))
	two := get("Bearer " + good)
	two.Header.Add("Authorization", "Bearer "+good)
	wantChallenge(t, serve(v, two), 400, invalid("more than one Authorization header"))
	wantChallenge(t, serve(v, get("Bearer")), 400, invalid("malformed Bearer credentials"))
	wantChallenge(t, serve(v, get(`Bearer a"b`)), 400, invalid("malformed Bearer credentials"))
}

// Keys that cannot be fetched answer 503 without a challenge, so clients
// do not discard good tokens.
func TestMiddlewareKeysUnavailable(t *testing.T) {
	k := newKey(t, "k1", "ES256")
	as := newStubAS(t, k)
	as.set(func(s *stubAS) { s.status = 500 })
	clk := newClock()
	v := stubValidator(t, as, clk)
	rec := serve(v, get("Bearer "+mint(t, k, claims(clk.Now()), nil)))
	if rec.Code != 503 || rec.Header().Get("WWW-Authenticate") != "" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

// Authenticate's refusals are *Errors wrapping the reason.
func TestAuthenticateErrors(t *testing.T) {
	v := validator(t, resource.Config{Issuer: stubIssuer, Audience: photosAPI})
	_, err := v.Authenticate(get(""))
	var e *resource.Error
	if !errors.As(err, &e) || !errors.Is(err, resource.ErrNoToken) || e.Status != 401 || e.Code != "" {
		t.Fatalf("%v", err)
	}
}
