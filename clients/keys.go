package clients

import (
	"bytes"
	"encoding/json"
)

// UsesSecret reports whether the client authenticates with a client
// secret: a confidential client of a secret method. Only such a client is
// issued one, and only its secret is ever accepted.
func (c *Client) UsesSecret() bool {
	return !c.Public && c.AuthMethod != AuthPrivateKeyJWT
}

// validateKeys checks a registration's jwks and jwks_uri: a
// private_key_jwt client needs exactly one of them, and no other client
// may have either (it would never be used). The inline set is kept
// compacted.
func validateKeys(c *Client, jwks json.RawMessage) error {
	hasSet := len(jwks) > 0 && string(jwks) != "null"
	switch {
	case c.AuthMethod != AuthPrivateKeyJWT && (hasSet || c.JWKSURI != ""):
		return &ValidationError{"jwks", "jwks and jwks_uri are only for private_key_jwt clients"}
	case c.AuthMethod != AuthPrivateKeyJWT:
		return nil
	case hasSet && c.JWKSURI != "":
		return &ValidationError{"jwks", "give jwks or jwks_uri, not both (RFC 7591 section 2)"}
	case !hasSet && c.JWKSURI == "":
		return &ValidationError{"jwks", "a private_key_jwt client needs jwks or jwks_uri"}
	case c.JWKSURI != "":
		if len(c.JWKSURI) > 2000 {
			return &ValidationError{"jwks_uri", "longer than 2000 bytes"}
		}
		if err := ValidateJWKSURI(c.JWKSURI); err != nil {
			return &ValidationError{"jwks_uri", err.Error()}
		}
		return nil
	}
	if _, err := ParsePublicJWKS(jwks); err != nil {
		return &ValidationError{"jwks", err.Error()}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, jwks); err != nil {
		return &ValidationError{"jwks", "not valid JSON"}
	}
	c.JWKS = compact.Bytes()
	return nil
}
