package resource

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"authserver/jwk"
)

// publicKey is one usable JWK: alg is the JWK's alg, empty when it names
// none (then any algorithm of its key type may use it).
type publicKey struct {
	alg string
	key crypto.PublicKey
}

// jwkMembers are the members of a JWK that say what it is for; the key
// itself is jwk.ParsePublic's to read.
type jwkMembers struct {
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

const maxJWKSBytes = 1 << 20

// parseJWKS returns the signing keys of a JWK Set by kid. Keys meant for
// anything but signatures, without kid, or of unsupported types are
// skipped, as RFC 7517 §5 asks of members a reader does not understand.
func parseJWKS(raw []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("JWK Set: %w", err)
	}
	out := make(map[string]publicKey, len(set.Keys))
	for _, m := range set.Keys {
		var j jwkMembers
		var members map[string]any
		if json.Unmarshal(m, &j) != nil || json.Unmarshal(m, &members) != nil || j.Kid == "" || (j.Use != "" && j.Use != "sig") {
			continue
		}
		if _, dup := out[j.Kid]; dup {
			continue // ambiguous: keep the first
		}
		pub, err := jwk.ParsePublic(members)
		if err != nil {
			continue
		}
		out[j.Kid] = publicKey{alg: j.Alg, key: pub}
	}
	return out, nil
}

// fetchJWKS GETs a JWK Set and reads how long it may be cached.
func fetchJWKS(ctx context.Context, hc *http.Client, url string) (map[string]publicKey, time.Duration, error) {
	raw, header, err := get(ctx, hc, url)
	if err != nil {
		return nil, 0, err
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return nil, 0, err
	}
	return keys, maxAge(header.Get("Cache-Control")), nil
}

// get fetches a JSON document, bounded in size.
func get(ctx context.Context, hc *http.Client, url string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > maxJWKSBytes {
		return nil, nil, fmt.Errorf("GET %s: document too large", url)
	}
	return raw, resp.Header, nil
}

// Bounds on how long a fetched key set is trusted: the issuer's
// Cache-Control max-age, kept within these so that a missing header does
// not mean refetching on every request, nor a huge one never again.
const (
	defaultKeysTTL = 5 * time.Minute
	minKeysTTL     = time.Minute
	maxKeysTTL     = 24 * time.Hour
)

// maxAge reads max-age from a Cache-Control value, clamped to the bounds;
// no-store and no-cache mean the minimum.
func maxAge(cc string) time.Duration {
	ttl := defaultKeysTTL
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return minKeysTTL
		case "max-age":
			if s, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && s >= 0 {
				ttl = time.Duration(min(s, int64(maxKeysTTL/time.Second))) * time.Second
			}
		}
	}
	return min(max(ttl, minKeysTTL), maxKeysTTL)
}
