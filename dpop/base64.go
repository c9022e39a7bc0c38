package dpop

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
