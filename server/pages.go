package server

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html assets/pages.css
var pageFiles embed.FS

// pageData is what every page template may show. Templates escape it all.
type pageData struct {
	Title  string
	Brand  string // the issuer's host, so users see where they sign in
	Prefix string // the issuer's path, under which the pages live

	ClientName   string
	Action       string // the form's target
	CSRF         string
	Username     string
	Error        string
	Code         string
	Scopes       []scopeView
	RedirectHost string
	SwitchURL    string
	SignedIn     bool
	// ClientHost is set for an unverified client (a client ID metadata
	// document): the host of its client_id URL, all that was checked.
	ClientHost string
}

type scopeView struct{ Name, Description string }

// pages renders the HTML pages (sign-in, consent, errors, sign-out).
type pages struct {
	tmpl map[string]*template.Template
	css  []byte
	log  *slog.Logger
}

func newPages(log *slog.Logger) *pages {
	p := &pages{tmpl: map[string]*template.Template{}, log: log}
	for _, name := range []string{"login", "consent", "error", "signout"} {
		p.tmpl[name] = template.Must(template.ParseFS(pageFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	css, err := pageFiles.ReadFile("assets/pages.css")
	if err != nil {
		panic(err) // embedded at build time
	}
	p.css = css
	return p
}

// render writes a page with headers that keep it out of caches and frames.
// formTarget is where the page's form may end up after redirects (the
// client's redirect URI), for the CSP form-action directive.
func (p *pages) render(c *gin.Context, status int, name string, d pageData, formTarget string) {
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		p.log.ErrorContext(c.Request.Context(), "render page", "page", name, "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if src := formActionSource(formTarget); src != "" {
		formAction += " " + src
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// serveCSS serves the pages' one stylesheet.
func (p *pages) serveCSS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/css; charset=utf-8", p.css)
}

// describeScope says in words what a scope lets an app do, for the
// consent page; scopes it does not know are shown by name only.
func describeScope(s string) scopeView {
	switch s {
	case "profile":
		return scopeView{s, "See your profile"}
	case "email":
		return scopeView{s, "See your email address"}
	case "offline_access":
		return scopeView{s, "Keep access while you are not using it"}
	}
	return scopeView{Description: s}
}
