package grants

import (
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// IDTokenHint is what an id_token_hint says: whose session it names and
// which client it was issued to.
type IDTokenHint struct {
	Subject  string
	ClientID string
}

// ErrInvalidHint is an id_token_hint this server did not issue as an ID
// Token.
var ErrInvalidHint = errors.New("invalid id_token_hint")

// VerifyIDTokenHint checks an ID Token given back as id_token_hint
// (RP-Initiated Logout 1.0 §2): its signature by one of our keys, typ and
// iss. An expired token is still a good hint: a relying party logging a
// user out often holds nothing fresher.
func (i *Issuer) VerifyIDTokenHint(raw string) (IDTokenHint, error) {
	var c idClaims
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(raw, &hintClaims{&c}, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != idTokenType {
			return nil, errors.New("not an ID Token (typ)")
		}
		kid, _ := t.Header["kid"].(string)
		method, pub, ok := i.keys.VerificationKey(kid)
		if !ok || method.Alg() != t.Method.Alg() {
			return nil, errors.New("unknown signing key")
		}
		return pub, nil
	})
	if err != nil || c.Issuer != i.issuer || c.Subject == "" || c.Audience == "" {
		return IDTokenHint{}, ErrInvalidHint
	}
	return IDTokenHint{Subject: c.Subject, ClientID: c.Audience}, nil
}

// hintClaims lets jwt decode into idClaims; claims are not validated, so
// the getters are never asked for anything.
type hintClaims struct{ *idClaims }

func (hintClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (hintClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (hintClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (hintClaims) GetIssuer() (string, error)                   { return "", nil }
func (hintClaims) GetSubject() (string, error)                  { return "", nil }
func (hintClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }
