package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"authserver/clients"
)

// MaxSecretOverlap bounds how long a rotated-out client secret keeps
// working: a rotation whose old secret lingers for months rotates nothing.
const MaxSecretOverlap = 30 * 24 * time.Hour

// ClientView is a client as the admin API shows it: everything but the
// secret hashes, which are listed field by field so a new secret-bearing
// field on clients.Client can never leak by default.
type ClientView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Public       bool     `json:"public"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs is RP-Initiated Logout 1.0 §3.1.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	// BackchannelLogoutURI is Back-Channel Logout 1.0 §2.2.
	BackchannelLogoutURI             string    `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired bool      `json:"backchannel_logout_session_required,omitempty"`
	Audience                         []string  `json:"audience"`
	FirstParty                       bool      `json:"first_party"`
	IDTokenAlg                       string    `json:"id_token_signed_response_alg"`
	SubjectType                      string    `json:"subject_type"`
	SectorIdentifierURI              string    `json:"sector_identifier_uri,omitempty"`
	Disabled                         bool      `json:"disabled"`
	CreatedAt                        time.Time `json:"created_at"`
	UpdatedAt                        time.Time `json:"updated_at"`

	// SelfRegistered marks a client made through POST /register (RFC 7591).
	SelfRegistered bool `json:"self_registered"`

	// JWKS or JWKSURI: a private_key_jwt client's public keys.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
}

// ClientWithSecret is the answer to a create or a secret rotation: the one
// time the secret is shown.
type ClientWithSecret struct {
	ClientView
	ClientSecret string `json:"client_secret,omitempty"`
	// PreviousSecretExpiresAt is when the rotated-out secret stops working
	// (absent when it stopped at once).
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
}

// NewClientView returns the admin view of c.
func NewClientView(c *clients.Client) ClientView {
	return ClientView{
		ID:                     c.ID,
		Name:                   c.Name,
		Public:                 c.Public,
		AuthMethod:             c.AuthMethod,
		GrantTypes:             nonNil(c.GrantTypes),
		Scopes:                 nonNil(c.Scopes),
		RedirectURIs:           nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		BackchannelLogoutURI:   c.BackchannelLogoutURI,

		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		Audience:                         nonNil(c.Audience),
		FirstParty:                       c.FirstParty,
		IDTokenAlg:                       c.IDTokenSigningAlg(),
		SubjectType:                      c.SubjectTypeOrDefault(),
		SectorIdentifierURI:              c.SectorIdentifierURI,
		Disabled:                         c.Disabled,
		CreatedAt:                        c.CreatedAt,
		UpdatedAt:                        c.UpdatedAt,

		// Only dynamically registered clients hold a registration token.
		SelfRegistered: len(c.RegistrationTokenHash) > 0,

		JWKS: c.JWKS, JWKSURI: c.JWKSURI,
	}
}

func (a *api) createClient(c *gin.Context) {
	var reg clients.Registration
	if err := decode(c, &reg, false); err != nil {
		a.fail(c, "clients.create", err)
		return
	}
	cl, secret, err := a.Clients.Create(c.Request.Context(), reg)
	if err != nil {
		a.fail(c, "clients.create", err)
		return
	}
	a.audit(c, "clients.create", "client_id", cl.ID, "name", cl.Name, "grant_types", cl.GrantTypes)
	c.JSON(http.StatusCreated, ClientWithSecret{ClientView: NewClientView(cl), ClientSecret: secret})
}

func (a *api) listClients(c *gin.Context) {
	list, err := a.Clients.List(c.Request.Context())
	if err != nil {
		a.fail(c, "clients.list", err)
		return
	}
	views := make([]ClientView, 0, len(list))
	for _, cl := range list {
		views = append(views, NewClientView(cl))
	}
	c.JSON(http.StatusOK, gin.H{"clients": views})
}

func (a *api) getClient(c *gin.Context) {
	cl, err := a.Clients.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		a.fail(c, "clients.get", err)
		return
	}
	c.JSON(http.StatusOK, NewClientView(cl))
}

func (a *api) deleteClient(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	if _, err := a.Clients.Get(ctx, id); err != nil {
		a.fail(c, "clients.delete", err)
		return
	}
	// Revoked first, while the client still exists to move its generation
	// on; a delete that fails after it is retried from the start.
	n, err := a.Revoker.RevokeClient(ctx, id, "clients.delete")
	if err != nil {
		a.fail(c, "clients.delete", err)
		return
	}
	if err := a.Clients.Delete(ctx, id); err != nil {
		a.fail(c, "clients.delete", err)
		return
	}
	a.audit(c, "clients.delete", "client_id", id, "families_revoked", n)
	c.Status(http.StatusNoContent)
}

func (a *api) rotateClientSecret(c *gin.Context) {
	var req struct {
		Overlap string `json:"overlap"`
	}
	if err := decode(c, &req, true); err != nil {
		a.fail(c, "clients.rotate_secret", err)
		return
	}
	var overlap time.Duration
	if req.Overlap != "" {
		d, err := time.ParseDuration(req.Overlap)
		if err != nil || d < 0 || d > MaxSecretOverlap {
			abortField(c, "overlap", fmt.Sprintf("overlap: want a duration such as \"1h\", from 0 to %s", MaxSecretOverlap))
			return
		}
		overlap = d
	}
	cl, secret, err := a.Clients.RotateSecret(c.Request.Context(), c.Param("id"), overlap)
	if err != nil {
		a.fail(c, "clients.rotate_secret", err)
		return
	}
	a.audit(c, "clients.rotate_secret", "client_id", cl.ID, "overlap", overlap.String())
	out := ClientWithSecret{ClientView: NewClientView(cl), ClientSecret: secret}
	if overlap > 0 {
		t := cl.PreviousSecretExpiresAt
		out.PreviousSecretExpiresAt = &t
	}
	c.JSON(http.StatusOK, out)
}

func (a *api) setClientDisabled(disabled bool) gin.HandlerFunc {
	action := "clients.enable"
	if disabled {
		action = "clients.disable"
	}
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		cl, err := a.Clients.SetDisabled(ctx, c.Param("id"), disabled)
		if err != nil {
			a.fail(c, action, err)
			return
		}
		n := 0
		if disabled {
			// Re-enabling brings back none of what the client held.
			if n, err = a.Revoker.RevokeClient(ctx, cl.ID, action); err != nil {
				a.fail(c, action, err)
				return
			}
			if cl, err = a.Clients.Get(ctx, cl.ID); err != nil {
				a.fail(c, action, err)
				return
			}
		}
		a.audit(c, action, "client_id", cl.ID, "families_revoked", n)
		c.JSON(http.StatusOK, NewClientView(cl))
	}
}
