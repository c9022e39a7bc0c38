package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"authserver/app"
	"authserver/config"
	"authserver/store/embedded"
	"authserver/store/redistest"
)

// The README's restore procedure, run: fill a node through the API, take a
// backup while writes go on, put the copy in a fresh data directory and
// start a node on it with the same key_encryption_secret. The refresh
// token issued before the backup still refreshes there, with the client's
// secret; with another secret the restored node does not start.
func TestBackupRestore(t *testing.T) {
	const secret = "the key-encryption secret kept apart from the backups"
	sameSecret := func(c *config.Config) { c.KeyEncryptionSecret = secret; shortAccess(c) }
	ctx := context.Background()
	src := startNode(t, sameSecret)
	mobile := src.admin(t, "POST", "/admin/clients", map[string]any{
		"name": "mobile", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"profile"},
	})
	src.admin(t, "POST", "/admin/users", map[string]any{"username": "alice", "password": "alice's long password"})
	conf := func(n *node) oauth2.Config {
		return oauth2.Config{
			ClientID: mobile["id"].(string), ClientSecret: mobile["client_secret"].(string),
			Endpoint: oauth2.Endpoint{TokenURL: n.base + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		}
	}
	c := conf(src)
	tok, err := c.PasswordCredentialsToken(ctx, "alice", "alice's long password")
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("password grant: %+v, %v", tok, err)
	}

	// Writes that go on while the copy is taken.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var wrote atomic.Int64
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := createClient(src, fmt.Sprint("busy-", i)); err != nil {
				t.Error(err)
				return
			}
			wrote.Add(1)
		}
	})
	for wrote.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	restored := t.TempDir()
	backup := filepath.Join(restored, "authserver.db")
	fetchBackup(t, src, backup)
	close(stop)
	wg.Wait()
	if err := embedded.VerifyFile(backup); err != nil { // bbolt's own check, every bucket there
		t.Fatalf("the backup fails its check: %v", err)
	}

	// Without the same secret the sealed signing keys cannot be opened.
	wrong := config.Default()
	wrong.DataDir = t.TempDir()
	wrong.KeyEncryptionSecret = "some other secret, just as long as the first"
	copyFile(t, backup, filepath.Join(wrong.DataDir, "authserver.db"))
	a, err := app.New(ctx, wrong, nil)
	if err == nil {
		a.Close()
		t.Fatal("a node started on the backup with another key_encryption_secret")
	}
	t.Logf("with another secret: %v", err)

	dst := startNode(t, func(c *config.Config) { sameSecret(c); c.DataDir = restored })
	c = conf(dst)
	next, err := c.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		t.Fatalf("the refresh token from before the backup, on the restored node: %v", err)
	}
	if next.RefreshToken == tok.RefreshToken || verify(t, dst, next.AccessToken).Scope != "profile" {
		t.Fatalf("refresh on the restored node: %+v", next)
	}
	// The client's secret is checked there too.
	c.ClientSecret = "not the secret"
	if _, err := c.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken, Expiry: time.Unix(1, 0)}).Token(); err == nil {
		t.Fatal("the restored node accepted a wrong client secret")
	}
}

// createClient creates a client through n's admin API.
func createClient(n *node, name string) error {
	body := fmt.Sprintf(`{"name":%q,"grant_types":["client_credentials"],"scopes":["profile"]}`, name)
	req, _ := http.NewRequest("POST", n.adminURL+"/admin/clients", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create client: %s", resp.Status)
	}
	return nil
}

// fetchBackup saves GET /admin/backup of n to path, checking its length.
func fetchBackup(t *testing.T, n *node, path string) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.adminURL+"/admin/backup", nil)
	req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %s", resp.Status)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.Copy(f, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); got != want || got == 0 {
		t.Fatalf("backup: %d bytes, Content-Length %d", got, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A node on Redis answers the backup endpoint with a JSON 501 that points
// at Redis persistence.
func TestBackupOnRedisIs501(t *testing.T) {
	r := redistest.StartStandalone(t)
	n := startNode(t, func(c *config.Config) { c.Redis.URL = r.URL() })
	req, _ := http.NewRequest("GET", n.adminURL+"/admin/backup", nil)
	req.Header.Set("Authorization", "Bearer "+n.app.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		ErrorDescription string `json:"error_description"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != http.StatusNotImplemented ||
		!strings.Contains(body.ErrorDescription, "Redis persistence") {
		t.Fatalf("backup on Redis: %s %s", resp.Status, raw)
	}
}
