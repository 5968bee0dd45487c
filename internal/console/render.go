package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/tessera-iam/tessera/internal/apitoken"
)

// pageData is what a template sees. The fields set by render come from the
// request; the rest from the handler.
type pageData struct {
	Title  string
	Error  string
	Notice string
	Data   any

	Base       string
	CSRF       string
	Nonce      string
	TenantName string
	Token      *apitoken.Token // the signed-in principal, nil when signed out
	CanChange  bool
}

// parsePages parses each page with the layout, once.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page; it buffers so that a template error becomes a clean
// 500 instead of half a page.
func (h *Handler) render(q *req, status int, name string, d pageData) {
	d.Base, d.Nonce, d.TenantName, d.Token = q.base(), q.nonce, q.tenant.Name, q.token
	d.CanChange = q.token != nil && q.mayChange()
	token, seed := h.csrf().Token(q.r)
	if seed != "" {
		h.setCookie(q.w, q.tenant.Slug, csrfCookie, seed, 0)
	}
	d.CSRF = token
	t, ok := h.pages[name]
	if !ok {
		h.Log.ErrorContext(q.ctx(), "no such console template", "page", name)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		h.Log.ErrorContext(q.ctx(), "render console page", "page", name, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.WriteHeader(status)
	_, _ = buf.WriteTo(q.w)
}
