package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authserver/app"
	"authserver/config"
)

// selfSigned makes a certificate for 127.0.0.1 with the given serial.
func selfSigned(t *testing.T, serial int64) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "authserver test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

// replace writes data to path the way a renewal tool does: a new file
// renamed over the old one.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// httpsGet fetches url on a new connection, trusting only roots.
func httpsGet(url string, roots *x509.CertPool) (*http.Response, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// The public listener serves HTTPS with HTTP/2 and TLS 1.2 at least, and
// picks up a renewed certificate without a restart; a broken new pair
// leaves the old one in service.
func TestTLSServesAndReloads(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1, cert1 := selfSigned(t, 1)
	c2, k2, cert2 := selfSigned(t, 2)
	replace(t, certFile, c1)
	replace(t, keyFile, k1)
	var logBuf syncBuffer
	n := startNodeLog(t, func(c *config.Config) {
		c.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	}, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	url := "https" + strings.TrimPrefix(n.base, "http") + "/healthz"
	roots := x509.NewCertPool()
	roots.AddCert(cert1)
	roots.AddCert(cert2)

	served := func() *big.Int {
		t.Helper()
		resp, err := httpsGet(url, roots)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || resp.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("status %d, %s, ALPN %q; want 200 over h2", resp.StatusCode, resp.Proto, resp.TLS.NegotiatedProtocol)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber
	}
	if s := served(); s.Int64() != 1 {
		t.Fatalf("serial %v, want 1", s)
	}
	// A handshake alone: over HTTP/2 the request would fail anyway.
	old := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", strings.TrimPrefix(n.base, "http://"), old); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	// The refused handshake is logged by net/http, in the JSON log.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logBuf.String(), "TLS handshake error"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no TLS handshake error in the server's JSON log:\n%s", logBuf.String())
		}
	}
	for _, m := range logLines(t, logBuf.String()) { // fails on a line that is not JSON
		if msg, _ := m["msg"].(string); strings.Contains(msg, "TLS handshake error") && m["level"] != "WARN" {
			t.Fatalf("handshake error logged as %v", m)
		}
	}
	// net/http answers plain HTTP on a TLS listener with a 400.
	if resp, err := http.Get(n.base + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS listener: %d, want 400", resp.StatusCode)
		}
	}

	// Renewed: the new certificate is served within a few check intervals.
	replace(t, keyFile, k2)
	replace(t, certFile, c2)
	for deadline := time.Now().Add(10 * time.Second); served().Int64() != 2; {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A key that does not match: logged, and the good pair stays.
	replace(t, keyFile, k1)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logBuf.String(), "keeping the one in service"); {
		if time.Now().After(deadline) {
			t.Fatal("a broken pair was not reported within 10s")
		}
		served()
		time.Sleep(50 * time.Millisecond)
	}
	if s := served(); s.Int64() != 2 {
		t.Fatalf("after a broken pair: serial %v, want 2 still", s)
	}
}

// A pair that does not load stops start-up with an error naming the key.
func TestTLSBadFilesStopStartUp(t *testing.T) {
	dir := t.TempDir()
	c1, k1, _ := selfSigned(t, 1)
	_, k2, _ := selfSigned(t, 2)
	good, goodKey, otherKey := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "k2.pem")
	replace(t, good, c1)
	replace(t, goodKey, k1)
	replace(t, otherKey, k2)
	for _, c := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "none.pem"), goodKey, "config: tls.cert_file:"},
		{"missing key", good, filepath.Join(dir, "none.pem"), "config: tls.key_file:"},
		{"key of another certificate", good, otherKey, "config: tls.cert_file, tls.key_file:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.TLS = config.TLS{CertFile: c.cert, KeyFile: c.key}
			a, err := app.New(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			pub, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			adm, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = a.Serve(ctx, pub, adm)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Serve = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
