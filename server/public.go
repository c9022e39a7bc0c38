// Package server builds the HTTP side of the authorization server: the
// public engine (/token, /authorize and its pages, /jwks, metadata) and the
// error rendering shared by them. The admin API lives in
// server/admin on its own listener.
package server

import (
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/audit"
	"authserver/clients"
	"authserver/users"
)

// Options are the public engine's parts.
type Options struct {
	// Issuer is the issuer URL; endpoint URLs in the metadata hang off it.
	Issuer string
	// Scopes are listed as scopes_supported.
	Scopes []string
	// Token serves POST /token.
	Token http.Handler
	// Authorize serves /authorize and its pages; nil leaves them out (and
	// out of the metadata).
	Authorize *Authorize
	// Registration serves /register (RFC 7591, 7592); nil leaves it out
	// (and registration_endpoint out of the metadata).
	Registration *Registration
	// Revocation serves POST /revoke (RFC 7009) and Introspection POST
	// /introspect (RFC 7662); nil leaves either out, and out of the metadata.
	Revocation    http.Handler
	Introspection http.Handler
	// UserInfo serves GET and POST /userinfo (OpenID Connect Core §5.3);
	// nil leaves it out.
	UserInfo http.Handler
	// EndSession serves /end_session (RP-Initiated Logout 1.0); nil leaves
	// it out, and end_session_endpoint out of the OpenID metadata.
	EndSession *EndSession
	// BackchannelLogout says logout tokens are sent (Back-Channel Logout
	// 1.0 §2.1), with the sid of the session that ended.
	BackchannelLogout bool
	// ClientIDMetadata says a client_id may be the URL of a client
	// metadata document (package cimd), advertised with /authorize.
	ClientIDMetadata bool
	// DPoPAlgs are the DPoP proof algorithms /token accepts (RFC 9449
	// §5.1, dpop_signing_alg_values_supported); empty offers no DPoP.
	DPoPAlgs []string
	// JWKS returns the current JSON Web Key Set.
	JWKS func() []byte
	// JWKSMaxAge is how long clients may cache /jwks (signing.jwks_max_age);
	// keys are published at least this long before they sign.
	JWKSMaxAge time.Duration
	Log        *slog.Logger
	// AccessLog receives one record per request (audit.AccessLog); nil
	// logs none.
	AccessLog *slog.Logger
	// Metrics counts and times every request (metrics.Gin); nil measures
	// nothing.
	Metrics gin.HandlerFunc
}

// NewPublic returns the engine of the public listener.
func NewPublic(o Options) *gin.Engine {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if o.AccessLog != nil {
		r.Use(audit.AccessLog(o.AccessLog, "public"))
	}
	if o.Metrics != nil {
		r.Use(o.Metrics)
	}
	r.Use(recoverJSON(o.Log), audit.RequestID())
	r.NoRoute(func(c *gin.Context) {
		abortJSON(c, http.StatusNotFound, "not_found", "no such endpoint")
	})
	r.NoMethod(func(c *gin.Context) {
		abortJSON(c, http.StatusMethodNotAllowed, "invalid_request", "method not allowed")
	})

	r.POST("/token", gin.WrapH(o.Token))
	doc := Metadata(o.Issuer, o.Scopes)
	if len(o.DPoPAlgs) > 0 {
		doc["dpop_signing_alg_values_supported"] = o.DPoPAlgs
	}
	if o.Authorize != nil {
		o.Authorize.routes(r)
		if o.ClientIDMetadata {
			doc["client_id_metadata_document_supported"] = true
		}
	} else {
		withoutAuthorize(doc)
	}
	if o.Registration != nil {
		o.Registration.routes(r)
		doc["registration_endpoint"] = o.Issuer + "/register"
	}
	if o.Revocation != nil {
		r.POST("/revoke", gin.WrapH(o.Revocation))
		doc["revocation_endpoint"] = o.Issuer + "/revoke"
		doc["revocation_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
		doc["revocation_endpoint_auth_signing_alg_values_supported"] = clients.AssertionAlgs
	}
	if o.Introspection != nil {
		r.POST("/introspect", gin.WrapH(o.Introspection))
		doc["introspection_endpoint"] = o.Issuer + "/introspect"
		// Public clients ("none") may not introspect.
		doc["introspection_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
		doc["introspection_endpoint_auth_signing_alg_values_supported"] = clients.AssertionAlgs
	}
	if o.EndSession != nil && o.Authorize != nil {
		o.EndSession.routes(r)
	}
	if o.UserInfo != nil {
		r.Match([]string{http.MethodGet, http.MethodPost}, "/userinfo", gin.WrapH(o.UserInfo))
	}
	jwksCache := "public, max-age=" + strconv.Itoa(int(o.JWKSMaxAge/time.Second))
	r.GET("/jwks", func(c *gin.Context) {
		c.Header("Cache-Control", jwksCache)
		c.Data(http.StatusOK, "application/jwk-set+json", o.JWKS())
	})
	serveDoc := func(path string, doc map[string]any) {
		body := mustJSON(doc)
		r.GET(path, func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=300")
			c.Data(http.StatusOK, "application/json", body)
		})
	}
	serveDoc("/.well-known/oauth-authorization-server", doc)
	if o.Authorize != nil {
		// An OpenID Provider signs in users, so it needs /authorize.
		oidc := withOpenID(doc, o.Issuer)
		if o.EndSession != nil {
			oidc["end_session_endpoint"] = o.Issuer + "/end_session"
		}
		if o.BackchannelLogout {
			oidc["backchannel_logout_supported"] = true
			oidc["backchannel_logout_session_supported"] = true
		}
		serveDoc("/.well-known/openid-configuration", oidc)
	}
	return r
}

// withOpenID is the OpenID Connect Discovery 1.0 §3 document: the RFC 8414
// one, so every field they share has one value, plus what only OpenID
// Connect defines. userinfo_endpoint is served at <issuer>/userinfo.
func withOpenID(doc map[string]any, issuer string) map[string]any {
	out := maps.Clone(doc)
	out["userinfo_endpoint"] = issuer + "/userinfo"
	out["subject_types_supported"] = clients.SubjectTypes
	// select_account is understood but always refused (no account chooser).
	out["prompt_values_supported"] = []string{"none", "login", "consent"}
	out["id_token_signing_alg_values_supported"] = clients.IDTokenAlgs
	// The ID Token's claims and what /userinfo releases.
	out["claims_supported"] = append([]string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"}, users.ReleasedClaims...)
	return out
}

// Metadata is the RFC 8414 document: every endpoint that exists, and
// nothing that does not.
func Metadata(issuer string, scopes []string) map[string]any {
	return map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "/authorize",
		"token_endpoint":                        issuer + "/token",
		"jwks_uri":                              issuer + "/jwks",
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "password", "refresh_token"},
		"scopes_supported":                      scopes,
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"code_challenge_methods_supported":      []string{"S256"},
		// RFC 9207: every authorization response carries iss.
		"authorization_response_iss_parameter_supported": true,
		// RFC 8707: resource at /authorize and /token. 8414 registers no
		// field for it; this one is what servers that advertise it use.
		"resource_indicators_supported": true,

		// What private_key_jwt assertions may be signed with.
		"token_endpoint_auth_signing_alg_values_supported": clients.AssertionAlgs,
	}
}

// withoutAuthorize strips what a server without /authorize does not have.
func withoutAuthorize(doc map[string]any) {
	for _, k := range []string{"authorization_endpoint", "response_modes_supported", "code_challenge_methods_supported", "authorization_response_iss_parameter_supported"} {
		delete(doc, k)
	}
	doc["response_types_supported"] = []string{}
	doc["grant_types_supported"] = []string{"client_credentials", "password", "refresh_token"}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a programming error in a static document
	}
	return b
}

// abortJSON answers with an OAuth-style JSON error.
func abortJSON(c *gin.Context, status int, code, desc string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": desc})
}

// recoverJSON turns a panic into a logged 500 with a JSON body, so a bug
// never leaves a client with a dropped connection.
func recoverJSON(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.ErrorContext(c.Request.Context(), "panic serving request", "path", c.Request.URL.Path, "panic", err)
		abortJSON(c, http.StatusInternalServerError, "server_error", "internal error")
	})
}
