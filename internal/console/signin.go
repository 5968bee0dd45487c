package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Signing in with an API token: the same secret the REST API takes as a
// bearer token, checked by the same apitoken.Service.Authenticate; it must
// belong to this tenant and reach all of it. Every refusal is the same
// page, so it tells nothing about a token of another tenant.

// refusal is the one answer to a token that does not open this console.
const refusal = "This token does not open this tenant's console. Check that it is an API token of this tenant, " +
	"not revoked or expired, and not limited to one organization."

// home is the applications page; signedIn sends a browser without a
// session on to sign-in.
func (h *Handler) home(q *req) error {
	http.Redirect(q.w, q.r, q.base()+"/applications", http.StatusSeeOther)
	return nil
}

func (h *Handler) signInPage(q *req) error {
	if _, err := h.principal(q); err == nil {
		http.Redirect(q.w, q.r, q.base()+"/applications", http.StatusSeeOther)
		return nil
	}
	h.render(q, http.StatusOK, "signin", pageData{Title: "Sign in to the admin console"})
	return nil
}

func (h *Handler) signIn(q *req) error {
	tok, err := h.Tokens.Authenticate(q.ctx(), strings.TrimSpace(q.r.PostFormValue("token")))
	if err != nil && !errors.Is(err, errkind.Unauthenticated) {
		return err
	}
	if err != nil || tok.Tenant != q.tenant.ID || !h.usable(tok) {
		h.render(q, http.StatusUnauthorized, "signin", pageData{Title: "Sign in to the admin console", Error: refusal})
		return nil
	}
	cs := consoleSession{Tenant: q.tenant.ID, Token: tok.ID, Expires: h.Now().Add(sessionLifetime).Unix()}
	h.setCookie(q.w, q.tenant.Slug, sessionCookie, h.sealer.seal(cs), sessionLifetime)
	http.Redirect(q.w, q.r, q.base()+"/applications", http.StatusSeeOther)
	return nil
}

// signOut forgets the session in this browser. The cookie holds no state on
// the server to end: a copy taken earlier lasts until its expiry, or until
// the token is revoked (see doc.go).
func (h *Handler) signOut(q *req) error {
	h.clearSession(q)
	http.Redirect(q.w, q.r, q.base()+"/signin", http.StatusSeeOther)
	return nil
}

// clearSession deletes the session cookie if the browser sent one.
func (h *Handler) clearSession(q *req) {
	if _, err := q.r.Cookie(sessionCookie); err == nil {
		h.setCookie(q.w, q.tenant.Slug, sessionCookie, "", -1)
	}
}
