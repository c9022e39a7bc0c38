package resource_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"authserver/resource"
)

const billingAPI = "https://billing.example.test/v1"

func validator(t *testing.T, cfg resource.Config) *resource.Validator {
	t.Helper()
	v, err := resource.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// refused checks that err is an *Error for reason.
func refused(t *testing.T, err, reason error) {
	t.Helper()
	var e *resource.Error
	if !errors.As(err, &e) || !errors.Is(err, reason) {
		t.Fatalf("error %v, want a refusal for %q", err, reason)
	}
}

// A client_credentials token from a real node, for this API, passes:
// keys are found by metadata discovery.
func TestNodeTokenValid(t *testing.T) {
	n := startNode(t)
	raw, clientID := n.accessToken(t, photosAPI, "photos:read invoices:read")
	v := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI})
	tok, err := v.Validate(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject != clientID || tok.ClientID != clientID || tok.JTI == "" || tok.JKT != "" {
		t.Errorf("token %+v", tok)
	}
	if !slices.Equal(tok.Scopes, []string{"photos:read", "invoices:read"}) || !tok.HasScope("photos:read") || tok.HasScope("photos:write") {
		t.Errorf("scopes %v", tok.Scopes)
	}
	if !slices.Equal(tok.Audience, []string{photosAPI}) || time.Until(tok.ExpiresAt) < 10*time.Minute {
		t.Errorf("aud %v exp %v", tok.Audience, tok.ExpiresAt)
	}
	if tok.Claims["iss"] != n.base {
		t.Errorf("claims %v", tok.Claims)
	}
}

// A token minted for API B is refused by API A, and the other way round.
func TestNodeTokenOtherAudience(t *testing.T) {
	n := startNode(t)
	forPhotos, _ := n.accessToken(t, photosAPI, "photos:read")
	forBilling, _ := n.accessToken(t, billingAPI, "invoices:read")
	photos := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI})
	billing := validator(t, resource.Config{Issuer: n.base, Audience: billingAPI})
	ctx := context.Background()
	_, err := photos.Validate(ctx, forBilling)
	refused(t, err, resource.ErrAudience)
	_, err = billing.Validate(ctx, forPhotos)
	refused(t, err, resource.ErrAudience)
	if _, err := billing.Validate(ctx, forBilling); err != nil {
		t.Fatal(err)
	}
	// The issuer must match exactly, trailing slash included.
	other := validator(t, resource.Config{Issuer: n.base + "/", Audience: photosAPI, JWKSURL: n.base + "/jwks"})
	_, err = other.Validate(ctx, forPhotos)
	refused(t, err, resource.ErrIssuer)
}

// Expiry is checked on the Validator's clock, with the leeway.
func TestNodeTokenExpired(t *testing.T) {
	n := startNode(t)
	raw, _ := n.accessToken(t, photosAPI, "photos:read")
	clk := newClock()
	v := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI, Now: clk.Now, Leeway: 20 * time.Second})
	clk.Advance(15*time.Minute + 10*time.Second) // default access_ttl is 15 min
	if _, err := v.Validate(context.Background(), raw); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	clk.Advance(20 * time.Second)
	_, err := v.Validate(context.Background(), raw)
	refused(t, err, resource.ErrExpired)
}

// Changing any byte of the signature or the payload breaks the token.
func TestNodeTokenTampered(t *testing.T) {
	n := startNode(t)
	raw, _ := n.accessToken(t, photosAPI, "photos:read")
	v := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI})
	parts := strings.Split(raw, ".")
	flip := func(s string) string {
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	for name, tok := range map[string]string{
		"signature": parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"payload":   parts[0] + "." + flip(parts[1]) + "." + parts[2],
	} {
		_, err := v.Validate(context.Background(), tok)
		var e *resource.Error
		if !errors.As(err, &e) || e.Code != resource.CodeInvalidToken {
			t.Errorf("%s tampered: %v", name, err)
		}
	}
	// Scope raised in the payload, signature kept: a bad signature.
	payload := strings.Replace(decode(t, parts[1]), `photos:read`, `photos:write`, 1)
	_, err := v.Validate(context.Background(), parts[0]+"."+encode(payload)+"."+parts[2])
	refused(t, err, resource.ErrSignature)
}

// An ID Token (typ JWT) of a password grant with openid is signed by the
// same issuer with the same keys, yet it is no access token.
func TestNodeIDTokenRefused(t *testing.T) {
	n := startNode(t)
	id, secret := n.client(t, photosAPI, []string{"password"}, []string{"openid", "photos:read"})
	n.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	tok := n.token(t, id, secret, url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice's long password"}, "scope": {"openid photos:read"}})
	idToken, _ := tok["id_token"].(string)
	if idToken == "" {
		t.Fatalf("no id_token in %v", tok)
	}
	v := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI})
	_, err := v.Validate(context.Background(), idToken)
	refused(t, err, resource.ErrType)
	// The access token beside it passes.
	if _, err := v.Validate(context.Background(), tok["access_token"].(string)); err != nil {
		t.Fatal(err)
	}

	// Nor is a back-channel logout token (typ logout+jwt).
	c, err := n.app.Clients.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	logout, err := n.app.Issuer.MintLogoutToken(c, "user", "", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(context.Background(), logout)
	refused(t, err, resource.ErrType)
}

// alg none, and HS256 keyed with anything, are refused before any key is
// looked up.
func TestAlgNoneAndHMACRefused(t *testing.T) {
	n := startNode(t)
	raw, _ := n.accessToken(t, photosAPI, "photos:read")
	v := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI})
	parts := strings.Split(raw, ".")
	header := decode(t, parts[0])
	for _, alg := range []string{"none", "HS256"} {
		h := strings.Replace(header, `"alg":"ES256"`, `"alg":"`+alg+`"`, 1)
		if h == header {
			t.Fatalf("header %s", header)
		}
		for _, sig := range []string{"", parts[2]} {
			_, err := v.Validate(context.Background(), encode(h)+"."+parts[1]+"."+sig)
			refused(t, err, resource.ErrAlgorithm)
		}
	}
}

// A key rotated in at once on the node signs tokens with a kid the cache
// has not seen: one refetch finds it, but not within 10 s of the last.
func TestNodeKeyRotationRefetch(t *testing.T) {
	n := startNode(t)
	clk := newClock()
	v := validator(t, resource.Config{Issuer: n.base, Audience: photosAPI, Now: clk.Now})
	before, _ := n.accessToken(t, photosAPI, "photos:read")
	if _, err := v.Validate(context.Background(), before); err != nil {
		t.Fatal(err)
	}
	n.admin(t, "POST", "/admin/keys/rotate", map[string]any{"now": true})
	after, _ := n.accessToken(t, photosAPI, "photos:read")
	if header(t, after) == header(t, before) {
		t.Fatal("rotation did not change the kid")
	}
	_, err := v.Validate(context.Background(), after)
	refused(t, err, resource.ErrUnknownKey)
	clk.Advance(11 * time.Second)
	if _, err := v.Validate(context.Background(), after); err != nil {
		t.Fatalf("after the refetch interval: %v", err)
	}
	if _, err := v.Validate(context.Background(), before); err != nil {
		t.Fatalf("the old key is still published: %v", err)
	}
}
