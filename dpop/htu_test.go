package dpop

import "testing"

func TestNormalizeHTU(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://as.example.com/token", "https://as.example.com/token"},
		{"HTTPS://AS.EXAMPLE.COM/token", "https://as.example.com/token"},
		{"https://as.example.com:443/token", "https://as.example.com/token"},
		{"http://as.example.com:80/token", "http://as.example.com/token"},
		{"http://as.example.com:443/token", "http://as.example.com:443/token"},
		{"https://as.example.com:80/token", "https://as.example.com:80/token"},
		{"https://as.example.com", "https://as.example.com/"},
		{"https://as.example.com:/token", "https://as.example.com/token"},
		{"https://as.example.com/token?a=b#c", "https://as.example.com/token"},
		{"https://as.example.com/token?", "https://as.example.com/token"},
		{"https://as.example.com/Token", "https://as.example.com/Token"},
		{"https://as.example.com/a%2fb", "https://as.example.com/a%2Fb"},
		{"https://as.example.com/%7Euser/%41", "https://as.example.com/~user/A"},
		{"https://as.example.com/a/./b/../c", "https://as.example.com/a/c"},
		{"https://as.example.com/a/..", "https://as.example.com/"},
		{"https://as.example.com/..", "https://as.example.com/"},
		{"https://as.example.com/a/.", "https://as.example.com/a/"},
		{"https://as.example.com/a%2E%2E/b", "https://as.example.com/a../b"},
		{"https://as.example.com/%2E%2E/b", "https://as.example.com/b"},
		{"https://as.example.com/a.b/c", "https://as.example.com/a.b/c"},
		{"https://[::1]:443/t", "https://[::1]/t"},
		{"https://[::1]:8443/t", "https://[::1]:8443/t"},
	}
	for _, c := range cases {
		got, err := normalizeHTU(c.in)
		if err != nil || got != c.want {
			t.Errorf("normalizeHTU(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestNormalizeHTURefuses(t *testing.T) {
	for _, in := range []string{
		"", "/token", "as.example.com/token", "ftp://as.example.com/token",
		"https:///token", "https:as.example.com", "https://user:pw@as.example.com/token",
		"https://as.example.com/%zz", "urn:x:y", "http://%25", "https://[fe80::1%25en0]/t",
		"https://a!b.example.com/t",
	} {
		if got, err := normalizeHTU(in); err == nil {
			t.Errorf("normalizeHTU(%q) = %q, want an error", in, got)
		}
	}
}
