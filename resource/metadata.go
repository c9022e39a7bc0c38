package resource

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Metadata is the RFC 9728 §2 protected resource metadata of the API.
type Metadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	BearerMethods        []string `json:"bearer_methods_supported"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	ResourceName         string   `json:"resource_name,omitempty"`
	Documentation        string   `json:"resource_documentation,omitempty"`
	DPoPSigningAlgs      []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// Metadata is what MetadataHandler serves.
func (v *Validator) Metadata() Metadata {
	m := Metadata{
		Resource: v.cfg.Audience, AuthorizationServers: []string{v.cfg.Issuer},
		BearerMethods: []string{"header"}, ScopesSupported: v.cfg.ScopesSupported,
		ResourceName: v.cfg.ResourceName, Documentation: v.cfg.Documentation,
	}
	if v.cfg.DPoP != nil {
		m.DPoPSigningAlgs = v.cfg.DPoPSigningAlgs
	}
	return m
}

// MetadataHandler serves Metadata as JSON; mount it at MetadataPath.
func (v *Validator) MetadataHandler() http.Handler {
	body, err := json.Marshal(v.Metadata())
	if err != nil {
		panic(err) // plain strings only
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(body)
	})
}

// wellKnown is the RFC 9728 §3 well-known URI suffix.
const wellKnown = "/.well-known/oauth-protected-resource"

// MetadataPath is where the metadata of Config.Audience lives on its
// host (RFC 9728 §3.1): the well-known segment, then the resource's path
// and query without a terminating slash.
func (v *Validator) MetadataPath() string {
	u, _ := url.Parse(v.cfg.Audience) // checked by New
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return wellKnown + p
}

// MetadataURL is the absolute URL of the metadata, the resource_metadata
// of challenges.
func (v *Validator) MetadataURL() string {
	u, _ := url.Parse(v.cfg.Audience)
	return u.Scheme + "://" + u.Host + v.MetadataPath()
}
