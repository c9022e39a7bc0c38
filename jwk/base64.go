package jwk

import (
	"encoding/base64"
	"errors"
	"strings"
)

// b64 is unpadded base64url with zero trailing bits. Go's decoders
// skip CR and LF even in strict mode; refusing them keeps a value's
// encoding unique.
type base64Codec struct{ enc *base64.Encoding }

var b64 = base64Codec{enc: base64.RawURLEncoding.Strict()}

func (c base64Codec) decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64url")
	}
	return c.enc.DecodeString(s)
}

func (c base64Codec) encode(b []byte) string { return c.enc.EncodeToString(b) }

// DecodeBase64 decodes unpadded base64url with zero trailing bits and no
// line breaks: the one encoding of every JWK member and JOSE value.
func DecodeBase64(s string) ([]byte, error) { return b64.decode(s) }

// EncodeBase64 is unpadded base64url.
func EncodeBase64(b []byte) string { return b64.encode(b) }
