package login

import (
	"net/http"
	"time"

	"github.com/tessera-iam/tessera/internal/session"
)

const (
	sessionCookie = session.CookieName
	pendingCookie = "tessera_mfa" // the second-factor step of a sign-in under way
)

// setCookie sets a cookie scoped to one tenant's pages: HttpOnly always,
// Secure when Tessera is reached over HTTPS, SameSite=Lax so that links from
// mail and applications still arrive signed in while cross-site POSTs do
// not carry it. maxAge 0 makes a browser-session cookie; negative deletes.
func (h *Handler) setCookie(w http.ResponseWriter, slug, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/t/" + slug + "/", HttpOnly: true, Secure: h.secure(),
		SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge.Seconds())
	case maxAge < 0:
		c.MaxAge = -1
		c.Value = ""
	}
	http.SetCookie(w, c)
}

func (h *Handler) clearCookie(w http.ResponseWriter, slug, name string) {
	h.setCookie(w, slug, name, "", -1)
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}
