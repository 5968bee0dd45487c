package login

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/web"
)

// Forms carry a double-submit token (web.CSRF) behind the cross-origin
// check of Protect.

const csrfCookie = "tessera_csrf"

func (h *Handler) csrf() web.CSRF { return web.CSRF{Key: h.CSRFKey, Cookie: csrfCookie} }

// csrfToken returns the form token for this browser, setting its cookie
// when there is none yet.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, slug string) string {
	token, seed := h.csrf().Token(r)
	if seed != "" {
		h.setCookie(w, slug, csrfCookie, seed, 0)
	}
	return token
}

// checkCSRF reports whether a form's token matches this browser's cookie.
func (h *Handler) checkCSRF(r *http.Request) bool { return h.csrf().Check(r) }
