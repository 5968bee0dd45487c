package login

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

// pageData is what a template sees. The fields set by render come from the
// request; the rest from the handler.
type pageData struct {
	Title       string
	Error       string
	Notice      string
	FieldErrors map[string]string
	Return      string
	Login       string
	Data        any

	Base       string
	CSRF       string
	Nonce      string
	Brand      session.Branding
	TenantName string
	User       *user.User
}

// parsePages parses each page with the layout, once.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"initial": initial}
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
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
		body, err := fs.ReadFile(templateFS, n)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("parse layout: %w", err)
		}
		if _, err := t.Parse(string(body)); err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// initial is the first letter of an application's name, for a tile without
// a logo.
func initial(s string) string {
	for _, r := range s {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// render writes a page; it buffers so that a template error becomes a clean
// 500 instead of half a page.
func (h *Handler) render(q *req, status int, name string, d pageData) {
	d.Base, d.Nonce = q.base(), q.nonce
	d.CSRF = h.csrfToken(q.w, q.r, q.slug)
	d.TenantName = q.tenant.Name
	d.User = q.user
	org := q.org
	if q.user != nil {
		org = q.user.Org
	}
	if b, err := h.Sessions.BrandingFor(q.r.Context(), q.tenant.ID, org); err == nil {
		d.Brand = b
	}
	if d.Brand.Name != "" {
		d.TenantName = d.Brand.Name
	}
	if err := web.WritePage(q.w, h.pages[name], "layout", status, d); err != nil {
		h.Log.ErrorContext(q.r.Context(), "render page", "page", name, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
	}
}
