package app_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/config"
	"authserver/dpop"
)

// BenchmarkTokenEndpointDPoP is BenchmarkTokenEndpoint's client_credentials
// with a DPoP proof: what verifying it (one signature, the replay cache)
// and binding the token add. Making the proof is the client's cost and is
// left out of the timing.
func BenchmarkTokenEndpointDPoP(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	b.Run(config.StoreEmbedded, func(b *testing.B) {
		n := newBenchNode(b, func(*config.Config) {})
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("client_credentials", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				proof, err := dpop.NewProof(key, "ES256", http.MethodPost, "http://bench.test/token", "", "", time.Now())
				if err != nil {
					b.Fatal(err)
				}
				req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", n.basic)
				req.Header.Set("DPoP", proof)
				rec := httptest.NewRecorder()
				b.StartTimer()
				n.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"token_type":"DPoP"`)) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	})
}
