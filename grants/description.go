package grants

import (
	"strings"
	"unicode/utf8"
)

// ErrorDescription makes s a legal error_description: RFC 6749 §4.1.2.1
// and §5.2 (and RFC 7591 §3.2.2, which reuses the field) allow only
// %x20-21 / %x23-5B / %x5D-7E, so a description that carries request text
// can smuggle neither markup-breaking quotes nor control characters nor
// non-ASCII into a client's logs or pages. A double quote becomes a single
// one and a backslash a slash, which keeps messages readable; any other
// character outside the set (one rune, or one invalid byte) becomes "?".
func ErrorDescription(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !descriptionByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s // the common case: our own fixed messages
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case descriptionByte(c):
			b.WriteByte(c)
			i++
		case c == '"':
			b.WriteByte('\'')
			i++
		case c == '\\':
			b.WriteByte('/')
			i++
		default:
			_, n := utf8.DecodeRuneInString(s[i:]) // n is 1 for an invalid byte
			b.WriteByte('?')
			i += n
		}
	}
	return b.String()
}

func descriptionByte(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'
}
