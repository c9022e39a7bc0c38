package ginresource_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"authserver/resource"
	"authserver/resource/ginresource"
)

func TestMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.PublicKey.Bytes()
	b := base64.RawURLEncoding.EncodeToString
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256", "x": b(raw[1:33]), "y": b(raw[33:])},
		}})
	}))
	defer jwks.Close()
	v, err := resource.New(resource.Config{Issuer: "https://auth.example.test", Audience: "https://photos.example.test", JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://auth.example.test", "aud": "https://photos.example.test", "sub": "alice", "client_id": "app",
		"jti": "j", "scope": "photos:read", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", "k1"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}

	r := gin.New()
	handler := func(c *gin.Context) {
		tok, ok := ginresource.Token(c)
		if !ok {
			c.Status(500)
			return
		}
		c.String(200, tok.Subject)
	}
	r.GET("/photos", ginresource.Middleware(v, "photos:read"), handler)
	r.POST("/photos", ginresource.Middleware(v, "photos:write"), handler)
	call := func(method, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/photos", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	if rec := call("GET", "Bearer "+signed); rec.Code != 200 || rec.Body.String() != "alice" {
		t.Errorf("GET: %d %s", rec.Code, rec.Body)
	}
	md := `resource_metadata="https://photos.example.test/.well-known/oauth-protected-resource"`
	if rec := call("GET", ""); rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != `Bearer realm="https://photos.example.test", `+md {
		t.Errorf("no token: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec := call("POST", "Bearer "+signed)
	if want := `Bearer realm="https://photos.example.test", error="insufficient_scope", error_description="token lacks scope photos:write", scope="photos:write", ` + md; rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != want {
		t.Errorf("POST: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}
