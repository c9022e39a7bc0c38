package dpop

import (
	"context"
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewProofClaims(t *testing.T) {
	key := newECKey(t, elliptic.P256())
	proof, err := NewProof(key, "ES256", "GET", "https://api.example.com/orders?page=2#top", "token", "n-1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	token, _, err := jwt.NewParser().ParseUnverified(proof, claims)
	if err != nil {
		t.Fatal(err)
	}
	if token.Header["typ"] != proofType || token.Header["alg"] != "ES256" || token.Header["jwk"] == nil {
		t.Fatalf("header %v", token.Header)
	}
	want := map[string]any{
		"htm": "GET", "htu": "https://api.example.com/orders",
		"ath": accessTokenHash("token"), "nonce": "n-1", "iat": float64(testNow.Unix()),
	}
	for name, value := range want {
		if claims[name] != value {
			t.Errorf("%s = %v, want %v", name, claims[name], value)
		}
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti %q is too short to be unique", jti)
	}
	other, _ := NewProof(key, "ES256", "GET", "https://api.example.com/orders", "", "", testNow)
	if strings.Contains(other, claims["jti"].(string)) {
		t.Error("two proofs share a jti")
	}
}

func TestNewProofOmitsAbsentClaims(t *testing.T) {
	proof, err := NewProof(newEdKey(t), "EdDSA", "POST", testURL, "", "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(proof, claims); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ath", "nonce"} {
		if _, ok := claims[name]; ok {
			t.Errorf("claim %s present", name)
		}
	}
}

func TestNewProofRefusesAlgOfAnotherKey(t *testing.T) {
	p256 := newECKey(t, elliptic.P256())
	for _, alg := range []string{"ES384", "RS256", "EdDSA", "HS256", "none", "nope"} {
		if _, err := NewProof(p256, alg, "POST", testURL, "", "", testNow); err == nil {
			t.Errorf("alg %s with a P-256 key: no error", alg)
		}
	}
	if _, err := NewProof(rsaKey(t, 1024), "RS256", "POST", testURL, "", "", testNow); err == nil {
		t.Error("1024-bit RSA key: no error")
	}
	if _, err := NewProof(p256, "ES256", "POST", "/token", "", "", testNow); err == nil {
		t.Error("relative URL: no error")
	}
}

func TestErrorDescriptionIsForTheClient(t *testing.T) {
	proof, _ := NewProof(newECKey(t, elliptic.P256()), "ES256", "POST", testURL, "", "", testNow.Add(-time.Hour))
	_, err := newVerifier().Verify(context.Background(), tokenRequest(proof))
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrInvalidProof || e.Description != "proof is too old" {
		t.Fatalf("error %#v", err)
	}
	if err.Error() != "dpop: proof is too old" {
		t.Fatalf("message %q", err.Error())
	}
}
