package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often a handshake may look at the certificate
// files: a stat of two files, not a read, unless they changed.
const certCheckInterval = time.Second

// certReloader serves the certificate of tls.cert_file and tls.key_file,
// re-reading them when their size or modification time changes, so a
// renewed certificate needs no restart. A new pair that does not load
// keeps the old one in service.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp, r.checked = cert, stamp, time.Now()
	return r, nil
}

func (r *certReloader) stat() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []struct{ key, path string }{{"tls.cert_file", r.certFile}, {"tls.key_file", r.keyFile}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			return s, fmt.Errorf("config: %s: %w", f.key, err)
		}
		s[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return s, nil
}

func (r *certReloader) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return nil, fmt.Errorf("config: tls.cert_file: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("config: tls.key_file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("config: tls.cert_file, tls.key_file: %w", err)
	}
	return &cert, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= certCheckInterval {
		r.checked = now
		stamp, err := r.stat()
		switch {
		case err != nil:
			r.log.Error("reload TLS certificate", "err", err)
		case stamp != r.stamp:
			// The new stamp is kept even when loading fails, so a broken
			// pair is logged once, and tried again when a file changes.
			r.stamp = stamp
			cert, err := r.load()
			if err != nil {
				r.log.Error("reload TLS certificate: keeping the one in service", "err", err)
				break
			}
			r.cert = cert
			r.log.Info("reloaded TLS certificate", "cert_file", r.certFile)
		}
	}
	return r.cert, nil
}

// publicTLS is the public listener's TLS configuration. http.Server adds
// h2 to its ALPN protocols, so clients get HTTP/2.
func (a *App) publicTLS() (*tls.Config, error) {
	r, err := newCertReloader(a.Config.TLS.CertFile, a.Config.TLS.KeyFile, a.Log)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}, nil
}
