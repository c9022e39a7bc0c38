package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"authserver/store/embedded"
)

const backupHead = `usage: authserver backup --out FILE [flags]

write a consistent copy of a running server's embedded store to FILE,
through the admin API (GET /admin/backup). The copy is written to a
temporary file beside FILE, fsynced, checked as a whole store file, and
only then renamed to FILE. A Redis-backed server is backed up by Redis
persistence instead (see README, Backups).
`

// runBackup is `authserver backup`.
func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authserver backup", flag.ContinueOnError)
	var cf connFlags
	cf.registerConn(fs)
	out := fs.String("out", "", "file to write the backup to (required)")
	force := fs.Bool("force", false, "replace FILE if it exists")
	if code, done := parseFlags(fs, args, backupHead, stdout, stderr); done {
		return code
	}
	if *out == "" {
		fmt.Fprintf(stderr, "authserver: backup: --out is required\n\n%s", backupHead)
		return 2
	}
	x := stdCLI(nil, stdout, stderr)
	n, err := x.backup(&cf, *out, *force)
	if err != nil {
		fmt.Fprintf(stderr, "authserver: backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d bytes to %s\n", n, *out)
	return 0
}

func (x cli) backup(cf *connFlags, out string, force bool) (int64, error) {
	if _, err := os.Lstat(out); err == nil && !force {
		return 0, fmt.Errorf("%s exists; pass --force to replace it", out)
	}
	ac, err := cf.client(x.getenv)
	if err != nil {
		return 0, err
	}
	resp, err := ac.stream(context.Background(), "/admin/backup")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	tmp, n, err := writeTemp(out, resp)
	if err != nil {
		return 0, err
	}
	if err := place(tmp, out, force); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// stream sends a GET and returns a 2xx answer unread. Unlike do it has no
// overall timeout: a large store takes a while to copy.
func (c *adminClient) stream(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: c.http.Timeout}}
	resp, err := hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is named once, below
		}
		return nil, fmt.Errorf("cannot reach the admin API at %s: %w", c.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, answerError(resp.StatusCode, body)
	}
	return resp, nil
}

// writeTemp copies the answer into a new file beside out, fsyncs it and
// checks it is a whole store file; it returns the file's path.
func writeTemp(out string, resp *http.Response) (string, int64, error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("the copy ended after %d of %d bytes", n, resp.ContentLength)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if verr := embedded.VerifyFile(f.Name()); verr != nil {
			err = fmt.Errorf("the copy is not a whole store file: %w", verr)
		}
	}
	if err != nil {
		os.Remove(f.Name())
		return "", 0, fmt.Errorf("writing the backup: %w", err)
	}
	return f.Name(), n, nil
}

// place moves tmp to out: a rename with force, else a link that fails if
// out appeared meanwhile. The directory is fsynced so the name survives a
// crash.
func place(tmp, out string, force bool) error {
	if force {
		if err := os.Rename(tmp, out); err != nil {
			return err
		}
	} else {
		if err := os.Link(tmp, out); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s exists; pass --force to replace it", out)
			}
			return err
		}
		os.Remove(tmp)
	}
	dir, err := os.Open(filepath.Dir(out))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
