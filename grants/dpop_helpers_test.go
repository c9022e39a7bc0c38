package grants_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authserver/dpop"
	"authserver/grants"
	"authserver/ratelimit"
)

// The endpoints as the issuer names them: the htu a proof must carry,
// whatever host the test server listens on.
const (
	tokenURL    = "https://issuer.test/token"
	userInfoURL = "https://issuer.test/userinfo"
)

// dpopKey is a client's DPoP key.
type dpopKey struct {
	priv *ecdsa.PrivateKey
	jkt  string
}

func newDPoPKey(t testing.TB) dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.ThumbprintKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return dpopKey{priv: k, jkt: jkt}
}

// proof is a fresh proof for POST /token.
func (k dpopKey) proof(t testing.TB) string {
	t.Helper()
	return k.proofFor(t, http.MethodPost, tokenURL, "", "", time.Now())
}

func (k dpopKey) proofFor(t testing.TB, method, target, accessToken, nonce string, iat time.Time) string {
	t.Helper()
	p, err := dpop.NewProof(k.priv, "ES256", method, target, accessToken, nonce, iat)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// forgedProof carries k's public key in its jwk but is signed by signer.
func (k dpopKey) forgedProof(t testing.TB, signer dpopKey) string {
	t.Helper()
	raw, err := k.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"jti": b64([]byte(time.Now().String())), "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix(),
	})
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	s, err := tok.SignedString(signer.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testNonces are the nonces of a harness that requires them.
var testNonces = dpop.NewNonces([]byte("test dpop nonce key, 32 bytes or more"), time.Minute)

// dpopOptions vary newDPoPHarness.
type dpopOptions struct {
	nonces bool               // every proof needs a nonce
	replay grants.ReplayStore // nil: in memory
	audit  io.Writer          // nil: discarded
}

// newDPoPHarness is newOIDCHarness with DPoP offered at /token, /userinfo
// and /introspect (all served by h.srv), proofs one-time in memory.
func newDPoPHarness(t *testing.T, o dpopOptions) *harness {
	t.Helper()
	h := newOIDCHarness(t)
	if o.replay == nil {
		o.replay = grants.MemoryReplayStore(10_000)
	}
	if o.audit == nil {
		o.audit = io.Discard
	}
	v := &dpop.Verifier{Replay: grants.ProofReplay(o.replay)}
	if o.nonces {
		v.Nonces = testNonces
	}
	h.endpoint = grants.NewEndpoint(testConfig(), grants.Deps{
		Clients: h.clients, Users: h.users, Families: h.store, Codes: h.store, Deny: h.store,
		Limiter: ratelimit.New(h.store), Issuer: h.issuer, Revoker: h.revoker, Chain: testChain,
		Audit: slog.New(slog.NewJSONHandler(o.audit, nil)), DPoP: v,
	})
	h.srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/token", h.endpoint)
	mux.Handle("/introspect", h.endpoint.IntrospectionHandler())
	mux.Handle("/userinfo", h.endpoint.UserInfoHandler())
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// postProof is post with one DPoP header per proof.
func (h *harness) postProof(t *testing.T, form url.Values, id, secret string, proofs ...string) reply {
	t.Helper()
	r, err := h.tryPostProof(form, id, secret, proofs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *harness) tryPostProof(form url.Values, id, secret string, proofs ...string) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" && secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return tryDo(req)
}

// wantDPoPToken asserts a DPoP token answer whose access token is bound
// to jkt.
func (h *harness) wantDPoPToken(t *testing.T, r reply, jkt string) {
	t.Helper()
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("want a DPoP token, got %d %v", r.status, r.body)
	}
	claims, err := h.issuer.Verify(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Cnf == nil || claims.Cnf.JKT != jkt {
		t.Fatalf("cnf %+v, want jkt %s", claims.Cnf, jkt)
	}
}
