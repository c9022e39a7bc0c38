package registration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"authserver/clients"
)

// Error codes of RFC 7591 §3.2.2.
const (
	CodeInvalidRedirectURI    = "invalid_redirect_uri"
	CodeInvalidClientMetadata = "invalid_client_metadata"
)

// Error is a refused registration or update (RFC 7591 §3.2.2, HTTP 400):
// nothing was stored.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func metadataErr(format string, a ...any) *Error {
	return &Error{CodeInvalidClientMetadata, fmt.Sprintf(format, a...)}
}

func redirectErr(format string, a ...any) *Error {
	return &Error{CodeInvalidRedirectURI, fmt.Sprintf(format, a...)}
}

// Bounds on what a client may register: enough for any real client, small
// enough that one registration cannot bloat the store.
const (
	maxRedirectURIs = 20
	maxURILen       = 2000
	maxContacts     = 10
	maxContactLen   = 320
	maxTextLen      = 200
)

// Metadata is client metadata as RFC 7591 §2 names it: what a client sends
// to register (and, with RFC 7592, to update). Fields the server does not
// know (software_statement, localized names, ...) are ignored, as §2
// requires.
type Metadata struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	Scope                   string   `json:"scope"`
	Contacts                []string `json:"contacts"`
	TOSURI                  string   `json:"tos_uri"`
	PolicyURI               string   `json:"policy_uri"`
	SoftwareID              string   `json:"software_id"`
	SoftwareVersion         string   `json:"software_version"`
	// IDTokenSignedResponseAlg is OpenID Connect Dynamic Client
	// Registration §2; empty means RS256.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg"`
	// PostLogoutRedirectURIs is RP-Initiated Logout 1.0 §3.1, checked as
	// redirect_uris are.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	// BackchannelLogoutURI is Back-Channel Logout 1.0 §2.2; logout tokens
	// of a session carry its sid, so backchannel_logout_session_required
	// may be true.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required"`
	// JWKS or JWKSURI (never both) holds the public keys a
	// private_key_jwt client signs its assertions with.
	JWKS    json.RawMessage `json:"jwks"`
	JWKSURI string          `json:"jwks_uri"`

	// OpenID Connect Dynamic Client Registration §2 metadata the server
	// does not support: refused rather than ignored, since a client that
	// sends them expects behaviour it would not get. Only public subjects
	// are issued, UserInfo answers are never signed, and request objects
	// are not taken.
	SubjectType               string   `json:"subject_type"`
	SectorIdentifierURI       string   `json:"sector_identifier_uri"`
	UserinfoSignedResponseAlg string   `json:"userinfo_signed_response_alg"`
	RequestObjectSigningAlg   string   `json:"request_object_signing_alg"`
	RequestURIs               []string `json:"request_uris"`
}

// UpdateRequest is the body of an RFC 7592 §2.2 update: the full metadata,
// the client's own ID, and optionally its current secret.
type UpdateRequest struct {
	Metadata
	ClientID     string  `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
	// What the server alone sets; §2.2 says a request must not carry them.
	RegistrationAccessToken json.RawMessage `json:"registration_access_token"`
	RegistrationClientURI   json.RawMessage `json:"registration_client_uri"`
	ClientSecretExpiresAt   json.RawMessage `json:"client_secret_expires_at"`
	ClientIDIssuedAt        json.RawMessage `json:"client_id_issued_at"`
}

// serverFields names the server-managed fields present in u.
func (u *UpdateRequest) serverFields() []string {
	var out []string
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{
		{"registration_access_token", u.RegistrationAccessToken},
		{"registration_client_uri", u.RegistrationClientURI},
		{"client_secret_expires_at", u.ClientSecretExpiresAt},
		{"client_id_issued_at", u.ClientIDIssuedAt},
	} {
		if f.v != nil && string(f.v) != "null" {
			out = append(out, f.name)
		}
	}
	return out
}

// toRegistration checks md by RFC 7591 §2 and §3.2.2 and the server's
// policy (allowed grant types) and maps it to what the client registry
// takes. Omitted grant_types mean authorization_code (§2); omitted
// response_types follow the grant types, so a client_credentials client
// need not send an empty list.
func (md *Metadata) toRegistration(allowedGrants []string) (clients.Registration, clients.Metadata, error) {
	var (
		reg  clients.Registration
		desc clients.Metadata
	)
	if err := checkText("client_name", md.ClientName); err != nil {
		return reg, desc, err
	}
	reg.Name = strings.TrimSpace(md.ClientName)

	switch md.TokenEndpointAuthMethod {
	case "":
		reg.AuthMethod = clients.AuthSecretBasic
	case clients.AuthSecretBasic, clients.AuthSecretPost, clients.AuthNone, clients.AuthPrivateKeyJWT:
		reg.AuthMethod = md.TokenEndpointAuthMethod
	default:
		return reg, desc, metadataErr("token_endpoint_auth_method is not supported (client_secret_basic, client_secret_post, private_key_jwt or none)")
	}
	if len(md.JWKSURI) > maxURILen {
		return reg, desc, metadataErr("jwks_uri longer than %d bytes", maxURILen)
	}
	if reg.AuthMethod == clients.AuthPrivateKeyJWT {
		reg.JWKS, reg.JWKSURI = md.JWKS, md.JWKSURI
	} // else ignored as before: no other method uses the client's keys
	reg.Public = reg.AuthMethod == clients.AuthNone

	if alg := md.IDTokenSignedResponseAlg; alg != "" && !slices.Contains(clients.IDTokenAlgs, alg) {
		return reg, desc, metadataErr("id_token_signed_response_alg is not supported (%s)", strings.Join(clients.IDTokenAlgs, ", "))
	}
	reg.IDTokenAlg = md.IDTokenSignedResponseAlg
	if err := md.checkUnsupported(); err != nil {
		return reg, desc, err
	}

	reg.GrantTypes = md.GrantTypes
	if len(reg.GrantTypes) == 0 {
		reg.GrantTypes = []string{clients.GrantAuthorizationCode}
	}
	for _, gt := range reg.GrantTypes {
		if !slices.Contains(clients.KnownGrantTypes, gt) {
			return reg, desc, metadataErr("grant_types: a grant type is not supported (%s)", strings.Join(clients.KnownGrantTypes, ", "))
		}
		if !slices.Contains(allowedGrants, gt) {
			return reg, desc, metadataErr("grant type %s is not available to registered clients on this server", gt) // gt is a known grant type
		}
	}
	code := slices.Contains(reg.GrantTypes, clients.GrantAuthorizationCode)
	for _, rt := range md.ResponseTypes {
		if rt != "code" {
			return reg, desc, metadataErr("response_types: only code is supported")
		}
	}
	if len(md.ResponseTypes) > 0 && !code {
		return reg, desc, metadataErr("response type code needs the authorization_code grant type (RFC 7591 section 2.1)")
	}
	if md.ResponseTypes != nil && len(md.ResponseTypes) == 0 && code {
		return reg, desc, metadataErr("the authorization_code grant type needs the code response type (RFC 7591 section 2.1)")
	}

	if len(md.RedirectURIs) > maxRedirectURIs {
		return reg, desc, redirectErr("at most %d redirect URIs", maxRedirectURIs)
	}
	for i, u := range md.RedirectURIs {
		if err := checkRedirectURI(i, u); err != nil {
			return reg, desc, err
		}
	}
	if code && len(md.RedirectURIs) == 0 {
		return reg, desc, redirectErr("redirect_uris is required for the authorization_code grant type")
	}
	reg.RedirectURIs = md.RedirectURIs
	if md.SubjectType == clients.SubjectPairwise && md.SectorIdentifierURI == "" {
		// Core §8.1: redirect URIs on several hosts need a
		// sector_identifier_uri listing them (the registry fetches it).
		if len(md.RedirectURIs) == 0 || !clients.OneSector(md.RedirectURIs) {
			return reg, desc, metadataErr("subject_type pairwise needs redirect_uris on one host, or a sector_identifier_uri listing them")
		}
	}
	if md.SectorIdentifierURI != "" && md.SubjectType != clients.SubjectPairwise {
		return reg, desc, metadataErr("sector_identifier_uri is only for subject_type pairwise")
	}
	if len(md.SectorIdentifierURI) > maxURILen {
		return reg, desc, metadataErr("sector_identifier_uri is too long")
	}
	reg.SubjectType = md.SubjectType
	reg.SectorIdentifierURI = md.SectorIdentifierURI
	if len(md.PostLogoutRedirectURIs) > maxRedirectURIs {
		return reg, desc, redirectErr("at most %d post-logout redirect URIs", maxRedirectURIs)
	}
	for i, u := range md.PostLogoutRedirectURIs {
		if err := checkURIOf("post_logout_redirect_uris", i, u); err != nil {
			return reg, desc, err
		}
	}
	reg.PostLogoutRedirectURIs = md.PostLogoutRedirectURIs
	if u := md.BackchannelLogoutURI; u != "" {
		if len(u) > maxURILen || clients.ValidateBackchannelLogoutURI(u) != nil {
			return reg, desc, metadataErr("backchannel_logout_uri must be an https URL (http only on a loopback host) without a fragment")
		}
	}
	if md.BackchannelLogoutSessionRequired && md.BackchannelLogoutURI == "" {
		return reg, desc, metadataErr("backchannel_logout_session_required needs a backchannel_logout_uri")
	}
	reg.BackchannelLogoutURI = md.BackchannelLogoutURI
	reg.BackchannelLogoutSessionRequired = md.BackchannelLogoutSessionRequired

	scopes, ok := clients.ParseScope(md.Scope)
	if !ok && strings.TrimSpace(md.Scope) != "" {
		return reg, desc, metadataErr("scope is not a space-separated list of scope tokens (RFC 6749 section 3.3)")
	}
	reg.Scopes = scopes

	for _, f := range []struct {
		name string
		v    string
		dst  *string
	}{
		{"client_uri", md.ClientURI, &desc.ClientURI},
		{"logo_uri", md.LogoURI, &desc.LogoURI},
		{"tos_uri", md.TOSURI, &desc.TOSURI},
		{"policy_uri", md.PolicyURI, &desc.PolicyURI},
	} {
		if f.v == "" {
			continue
		}
		if err := checkWebURI(f.name, f.v); err != nil {
			return reg, desc, err
		}
		*f.dst = f.v
	}
	if len(md.Contacts) > maxContacts {
		return reg, desc, metadataErr("contacts: at most %d", maxContacts)
	}
	for _, c := range md.Contacts {
		if strings.TrimSpace(c) == "" || len(c) > maxContactLen || hasControl(c) {
			return reg, desc, metadataErr("contacts: each must be non-empty, printable and at most %d bytes", maxContactLen)
		}
	}
	desc.Contacts = slices.Clone(md.Contacts)
	for _, f := range []struct{ name, v string }{{"software_id", md.SoftwareID}, {"software_version", md.SoftwareVersion}} {
		if err := checkText(f.name, f.v); err != nil {
			return reg, desc, err
		}
	}
	desc.SoftwareID, desc.SoftwareVersion = md.SoftwareID, md.SoftwareVersion
	return reg, desc, nil
}

// checkRedirectURI is RFC 7591 §2 for redirect URIs on this server:
// absolute, no fragment, https, or http only on a loopback host (RFC 8252
// §7.3). Private-use schemes, which an admin may register, are not open to
// self-registration: anyone could claim one.
//
// Errors name the URI by its index, not its text, which is the caller's.
func checkRedirectURI(i int, raw string) error { return checkURIOf("redirect_uris", i, raw) }

// checkURIOf checks the i-th URI of a list field by the rules of
// checkRedirectURI.
func checkURIOf(field string, i int, raw string) error {
	if len(raw) > maxURILen {
		return redirectErr("%s[%d] is longer than %d bytes", field, i, maxURILen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return redirectErr("%s[%d] is not an absolute URI", field, i)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return redirectErr("%s[%d]: use https, or http on a loopback host", field, i)
	}
	var re *clients.RedirectURIError
	if err := clients.ValidateRedirectURI(raw); errors.As(err, &re) {
		return redirectErr("%s[%d] %s", field, i, re.Reason)
	} else if err != nil {
		return redirectErr("%s[%d] is not allowed", field, i)
	}
	return nil
}

// checkWebURI accepts an absolute http(s) URL with a host: these URIs are
// shown to people, so no javascript: or data: URLs.
func checkWebURI(field, raw string) error {
	if len(raw) > maxURILen {
		return metadataErr("%s longer than %d bytes", field, maxURILen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return metadataErr("%s is not an absolute http or https URL", field)
	}
	return nil
}

func checkText(field, s string) error {
	if len(s) > maxTextLen || hasControl(s) {
		return metadataErr("%s must be printable and at most %d bytes", field, maxTextLen)
	}
	return nil
}

func hasControl(s string) bool { return strings.ContainsFunc(s, unicode.IsControl) }

// fromClients maps the client registry's validation errors to RFC 7591
// errors, naming fields as the RFC does.
func fromClients(err error) error {
	var ve *clients.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	field := map[string]string{"name": "client_name", "scopes": "scope"}[ve.Field]
	if field == "" {
		field = ve.Field
	}
	if ve.Field == "redirect_uris" {
		return redirectErr("%s", ve.Reason)
	}
	return metadataErr("%s: %s", field, ve.Reason)
}

// Information is the client information response (RFC 7591 §3.2.1, RFC
// 7592 §3): the registered metadata, including what the server filled in,
// and what the client needs to manage its registration. ClientSecret is set
// only when the secret is issued: the server keeps its hash, not the secret.
type Information struct {
	ClientID                 string   `json:"client_id"`
	ClientSecret             string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt         int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt    *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken  string   `json:"registration_access_token"`
	RegistrationClientURI    string   `json:"registration_client_uri"`
	ClientName               string   `json:"client_name"`
	RedirectURIs             []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	GrantTypes               []string `json:"grant_types"`
	ResponseTypes            []string `json:"response_types"`
	Scope                    string   `json:"scope,omitempty"`
	ClientURI                string   `json:"client_uri,omitempty"`
	LogoURI                  string   `json:"logo_uri,omitempty"`
	TOSURI                   string   `json:"tos_uri,omitempty"`
	PolicyURI                string   `json:"policy_uri,omitempty"`
	Contacts                 []string `json:"contacts,omitempty"`
	SoftwareID               string   `json:"software_id,omitempty"`
	SoftwareVersion          string   `json:"software_version,omitempty"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	SubjectType              string   `json:"subject_type"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI     string   `json:"backchannel_logout_uri,omitempty"`

	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required,omitempty"`
	SectorIdentifierURI              string `json:"sector_identifier_uri,omitempty"`

	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
}

func information(c *clients.Client, secret, regToken, uri string) *Information {
	info := &Information{
		ClientID:                 c.ID,
		ClientSecret:             secret,
		ClientIDIssuedAt:         c.CreatedAt.Unix(),
		RegistrationAccessToken:  regToken,
		RegistrationClientURI:    uri,
		ClientName:               c.Name,
		RedirectURIs:             c.RedirectURIs,
		TokenEndpointAuthMethod:  c.AuthMethod,
		GrantTypes:               c.GrantTypes,
		ResponseTypes:            []string{},
		Scope:                    strings.Join(c.Scopes, " "),
		ClientURI:                c.Metadata.ClientURI,
		LogoURI:                  c.Metadata.LogoURI,
		TOSURI:                   c.Metadata.TOSURI,
		PolicyURI:                c.Metadata.PolicyURI,
		Contacts:                 c.Metadata.Contacts,
		SoftwareID:               c.Metadata.SoftwareID,
		SoftwareVersion:          c.Metadata.SoftwareVersion,
		IDTokenSignedResponseAlg: c.IDTokenSigningAlg(),
		SubjectType:              c.SubjectTypeOrDefault(),
		PostLogoutRedirectURIs:   c.PostLogoutRedirectURIs,
		BackchannelLogoutURI:     c.BackchannelLogoutURI,

		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		SectorIdentifierURI:              c.SectorIdentifierURI,

		JWKS: c.JWKS, JWKSURI: c.JWKSURI,
	}
	if c.AllowsGrant(clients.GrantAuthorizationCode) {
		info.ResponseTypes = []string{"code"}
	}
	if c.UsesSecret() {
		never := int64(0) // the secret does not expire (RFC 7591 §3.2.1)
		info.ClientSecretExpiresAt = &never
	}
	return info
}

// checkUnsupported refuses the OpenID Connect registration metadata the
// server does not implement (Dynamic Client Registration 1.0 §2).
func (md *Metadata) checkUnsupported() error {
	switch {
	case md.SubjectType != "" && !slices.Contains(clients.SubjectTypes, md.SubjectType):
		return metadataErr("subject_type is not supported (public or pairwise)")
	case md.UserinfoSignedResponseAlg != "" && md.UserinfoSignedResponseAlg != "none":
		return metadataErr("userinfo_signed_response_alg is not supported: UserInfo responses are plain JSON, never signed")
	case md.RequestObjectSigningAlg != "":
		return metadataErr("request_object_signing_alg is not supported: request objects are not accepted")
	case len(md.RequestURIs) > 0:
		return metadataErr("request_uris is not supported: request objects are not accepted")
	}
	return nil
}
