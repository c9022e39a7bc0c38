package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"authserver/app"
	"authserver/clients"
	"authserver/config"
	"authserver/store/redistest"
)

// BenchmarkTokenEndpoint runs whole requests through the public handler
// (Gin, the token pipeline, the issuer, the store) in process, without a
// network: the server's own cost per request and its allocations, which
// `authserver bench` then measures over HTTP.
func BenchmarkTokenEndpoint(b *testing.B) {
	gin.SetMode(gin.ReleaseMode) // no route dump per node
	srv := redistest.StartStandalone(b)
	for _, store := range []string{config.StoreEmbedded, config.StoreRedis} {
		b.Run(store, func(b *testing.B) {
			n := newBenchNode(b, func(c *config.Config) {
				if store == config.StoreRedis {
					c.Redis.URL = srv.URL()
				}
			})
			b.Run("client_credentials", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					n.token(b, "grant_type=client_credentials")
				}
			})
			b.Run("refresh_token", func(b *testing.B) {
				rt := n.refreshToken(n.token(b, n.passwordForm))
				b.ReportAllocs()
				for b.Loop() {
					rt = n.refreshToken(n.token(b, "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt)))
				}
			})
			b.Run("introspection", func(b *testing.B) {
				at := n.accessToken(n.token(b, "grant_type=client_credentials"))
				form := "token=" + url.QueryEscape(at)
				b.ReportAllocs()
				for b.Loop() {
					body := n.post(b, "/introspect", form)
					if !bytes.Contains(body, []byte(`"active":true`)) {
						b.Fatalf("introspection: %s", body)
					}
				}
			})
			// The default argon2id cost; compare with users.BenchmarkVerify
			// for what the grant adds to the hash.
			b.Run("password", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					n.token(b, n.passwordForm)
				}
			})
		})
	}
}

type benchNode struct {
	handler      http.Handler
	basic        string
	passwordForm string
}

func newBenchNode(b *testing.B, tweak func(*config.Config)) *benchNode {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.Issuer = "http://bench.test"
	cfg.Tokens.Audience = cfg.Issuer
	tweak(cfg)
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	c, secret, err := a.Clients.Create(ctx, clients.Registration{
		Name: "bench", Scopes: []string{"profile"},
		GrantTypes: []string{clients.GrantClientCredentials, clients.GrantPassword, clients.GrantRefreshToken},
	})
	if err != nil {
		b.Fatal(err)
	}
	const username, password = "bench-user", "a long bench passphrase"
	if _, err := a.Users.Create(ctx, username, password); err != nil {
		b.Fatal(err)
	}
	return &benchNode{
		handler:      a.Public,
		basic:        "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ID+":"+secret)),
		passwordForm: url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}.Encode(),
	}
}

func (n *benchNode) post(b *testing.B, path, form string) []byte {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", n.basic)
	rec := httptest.NewRecorder()
	n.handler.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code != http.StatusOK {
		b.Fatalf("POST %s: %d %s", path, rec.Code, body)
	}
	return body
}

func (n *benchNode) token(b *testing.B, form string) []byte { return n.post(b, "/token", form) }

// field reads a string field of a token response without a JSON decoder,
// so the benchmark's own allocations stay out of the figure.
func field(body []byte, name string) string {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(body, key)
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

func (n *benchNode) refreshToken(body []byte) string { return field(body, "refresh_token") }
func (n *benchNode) accessToken(body []byte) string  { return field(body, "access_token") }
