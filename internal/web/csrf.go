package web

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
//
// CSRF is the second layer: the page package sets the seed cookie itself,
// so that it keeps its own path and SameSite rules.
type CSRF struct {
	Key    []byte // a key for this purpose only, derived from the master key
	Cookie string // name of the cookie holding the browser's random seed
}

// seedLength is the length of a seed: 32 random bytes, base64url encoded.
const seedLength = 43

// Token returns the form token for r's browser. When the browser has no
// seed yet, newSeed is a fresh one that the caller must set as the cookie.
func (c CSRF) Token(r *http.Request) (token, newSeed string) {
	if ck, err := r.Cookie(c.Cookie); err == nil && len(ck.Value) == seedLength {
		return c.tokenFor(ck.Value), ""
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	newSeed = base64.RawURLEncoding.EncodeToString(b)
	return c.tokenFor(newSeed), newSeed
}

func (c CSRF) tokenFor(seed string) string {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("csrf/" + seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Check reports whether a form's token (the "csrf" field, or the
// X-CSRF-Token header of a script's JSON post) matches the browser's cookie.
func (c CSRF) Check(r *http.Request) bool {
	ck, err := r.Cookie(c.Cookie)
	if err != nil || len(ck.Value) != seedLength {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return hmac.Equal([]byte(got), []byte(c.tokenFor(ck.Value)))
}
