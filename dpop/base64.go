package dpop

import "authserver/jwk"

// b64 is the strict unpadded base64url of JOSE (jwk.DecodeBase64).
var b64 base64Codec

type base64Codec struct{}

func (base64Codec) decode(s string) ([]byte, error) { return jwk.DecodeBase64(s) }

func (base64Codec) encode(b []byte) string { return jwk.EncodeBase64(b) }
