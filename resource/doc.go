// Package resource is what an API written in Go imports to accept the
// access tokens authserver issues: RFC 9068 JWT access tokens, checked
// against the issuer's published keys (JWKS), for one resource (the API's
// audience).
//
// A Validator checks tokens (Validate); its Middleware guards net/http
// handlers and answers failures with RFC 6750 §3 challenges that point
// clients at the API's RFC 9728 protected resource metadata, which
// MetadataHandler serves at MetadataPath. DPoP-bound tokens (RFC 9449,
// cnf.jkt) are accepted only with the DPoP scheme and a proof checked by
// Config.DPoP. The ginresource sub-package adapts the middleware to Gin.
package resource
