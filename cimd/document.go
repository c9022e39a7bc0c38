package cimd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"authserver/clients"
)

// document is the part of a client metadata document (RFC 7591 §2 names)
// the server reads. Fields that would make the client confidential are
// read only to be refused.
type document struct {
	ClientID                string          `json:"client_id"`
	ClientName              string          `json:"client_name"`
	ClientURI               string          `json:"client_uri"`
	LogoURI                 string          `json:"logo_uri"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	Scope                   string          `json:"scope"`
	ClientSecret            json.RawMessage `json:"client_secret"`
	ClientSecretExpiresAt   json.RawMessage `json:"client_secret_expires_at"`
	JWKS                    json.RawMessage `json:"jwks"`
	JWKSURI                 json.RawMessage `json:"jwks_uri"`
}

// parse turns the body fetched from id into a public client whose scopes
// are those the document asks for among allowed (all of allowed when it
// asks for none). It returns the reason a document is refused, or "".
func parse(id string, body []byte, allowed []string) (*clients.Client, string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, "the document is not a JSON object"
	}
	var d document
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, "the document is not valid client metadata JSON"
	}
	switch {
	case d.ClientID != id:
		// §4.1: exact string comparison, so one document cannot speak
		// for another URL.
		return nil, "the document's client_id is not the URL it was fetched from"
	case present(d.ClientSecret) || present(d.ClientSecretExpiresAt):
		return nil, "the document has a client_secret; a metadata document client cannot have a shared secret"
	}
	method := clients.AuthNone
	var jwks []byte
	var jwksURI string
	switch d.TokenEndpointAuthMethod {
	case "", clients.AuthNone:
		if present(d.JWKS) || present(d.JWKSURI) {
			return nil, "jwks and jwks_uri are only for token_endpoint_auth_method private_key_jwt"
		}
	case clients.AuthPrivateKeyJWT:
		method = clients.AuthPrivateKeyJWT
		var reason string
		if jwks, jwksURI, reason = keys(d); reason != "" {
			return nil, reason
		}
	case clients.AuthSecretBasic, clients.AuthSecretPost, "client_secret_jwt":
		return nil, "token_endpoint_auth_method " + d.TokenEndpointAuthMethod + " rests on a shared secret, which a metadata document client cannot have"
	default:
		return nil, "unsupported token_endpoint_auth_method; use \"none\" or \"private_key_jwt\""
	}
	grantTypes, reason := grantTypes(d.GrantTypes)
	if reason != "" {
		return nil, reason
	}
	if len(d.ResponseTypes) > 0 && !slices.Equal(d.ResponseTypes, []string{"code"}) {
		return nil, "response_types must be [\"code\"]"
	}
	if len(d.RedirectURIs) == 0 {
		return nil, "the document has no redirect_uris"
	}
	for _, u := range d.RedirectURIs {
		if err := clients.ValidateRedirectURI(u); err != nil {
			return nil, "a redirect URI in the document " + err.(*clients.RedirectURIError).Reason
		}
	}
	scopes, reason := scopes(d.Scope, allowed)
	if reason != "" {
		return nil, reason
	}
	name := strings.TrimSpace(d.ClientName)
	if name == "" || len(name) > 200 {
		name = Host(id)
	}
	return &clients.Client{
		ID: id, Name: name, Public: method == clients.AuthNone, AuthMethod: method, JWKS: jwks, JWKSURI: jwksURI,
		GrantTypes: grantTypes, Scopes: scopes, RedirectURIs: slices.Clone(d.RedirectURIs),
		Metadata:         clients.Metadata{ClientURI: d.ClientURI, LogoURI: d.LogoURI},
		MetadataDocument: true,
	}, ""
}

// present reports whether a JSON member was given (null counts as absent).
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// grantTypes are those of a public browser or native app: the
// authorization code (the default, RFC 7591 §2) and its refreshes.
func grantTypes(in []string) ([]string, string) {
	if len(in) == 0 {
		return []string{clients.GrantAuthorizationCode}, ""
	}
	var out []string
	for _, gt := range in {
		if gt != clients.GrantAuthorizationCode && gt != clients.GrantRefreshToken {
			return nil, fmt.Sprintf("grant type %q is not allowed; use authorization_code and refresh_token", gt)
		}
		if !slices.Contains(out, gt) {
			out = append(out, gt)
		}
	}
	if !slices.Contains(out, clients.GrantAuthorizationCode) {
		return nil, "grant_types must include authorization_code"
	}
	return out, ""
}

// scopes narrows what the document asks for to allowed; scopes the server
// does not allow are dropped, not refused, as a client cannot know every
// server's list.
func scopes(asked string, allowed []string) ([]string, string) {
	if strings.TrimSpace(asked) == "" {
		return slices.Clone(allowed), ""
	}
	want, ok := clients.ParseScope(asked)
	if !ok {
		return nil, "the document's scope is malformed"
	}
	var out []string
	for _, s := range want {
		if slices.Contains(allowed, s) {
			out = append(out, s)
		}
	}
	return out, ""
}

// keys are a private_key_jwt client's public keys: exactly one of jwks
// (checked and kept compacted) and jwks_uri (https, fetched when an
// assertion needs it).
func keys(d document) (jwks []byte, jwksURI, reason string) {
	switch {
	case present(d.JWKS) == present(d.JWKSURI):
		return nil, "", "a private_key_jwt document needs exactly one of jwks and jwks_uri"
	case present(d.JWKSURI):
		if err := json.Unmarshal(d.JWKSURI, &jwksURI); err != nil {
			return nil, "", "jwks_uri must be a string"
		}
		if err := clients.ValidateJWKSURI(jwksURI); err != nil || len(jwksURI) > 2000 {
			return nil, "", "jwks_uri must be an https URL"
		}
		return nil, jwksURI, ""
	}
	if _, err := clients.ParsePublicJWKS(d.JWKS); err != nil {
		return nil, "", "jwks: " + err.Error()
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, d.JWKS); err != nil {
		return nil, "", "jwks is not valid JSON"
	}
	return compact.Bytes(), "", ""
}
