package console

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/web"
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
	if err := web.WritePage(q.w, h.pages[name], "layout.html", status, d); err != nil {
		h.Log.ErrorContext(q.ctx(), "render console page", "page", name, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
	}
}
