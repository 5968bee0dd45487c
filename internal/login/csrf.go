package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF defence in two layers: http.CrossOriginProtection refuses POSTs that
// the browser marks as cross-origin (Sec-Fetch-Site, Origin), and every form
// carries a token that is an HMAC of a random cookie, which another site can
// neither read nor, without a forged cookie and the key, compute.

const csrfCookie = "tessera_csrf"

// csrfToken returns the form token for this browser, setting its cookie
// when there is none yet.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, slug string) string {
	c, err := r.Cookie(csrfCookie)
	seed := ""
	if err == nil && len(c.Value) == 43 {
		seed = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		seed = base64.RawURLEncoding.EncodeToString(b)
		h.setCookie(w, slug, csrfCookie, seed, 0)
	}
	return h.csrfFor(seed)
}

func (h *Handler) csrfFor(seed string) string {
	m := hmac.New(sha256.New, h.CSRFKey)
	m.Write([]byte("csrf/" + seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether a form's token matches this browser's cookie.
func (h *Handler) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 43 {
		return false
	}
	got := r.Header.Get("X-CSRF-Token") // the WebAuthn script's JSON posts
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return hmac.Equal([]byte(got), []byte(h.csrfFor(c.Value)))
}
