package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// A console session is a cookie, not a row: it seals {tenant, token id,
// expiry} with AES-GCM under a key derived from the master key, so every
// node can read it and nobody can forge or alter it. It holds no secret:
// the token's secret never leaves the sign-in request, and each request
// looks the token up again (see signedIn), so revoking the token ends every
// console session made with it at once.

const (
	sessionCookie = "tessera_console"
	csrfCookie    = "tessera_console_csrf"
	// sessionLifetime is the absolute lifetime of a console session: a
	// working day, and never longer, however active.
	sessionLifetime = 8 * time.Hour
)

// consoleSession is what the cookie seals.
type consoleSession struct {
	Tenant  tenant.ID   `json:"t"`
	Token   apitoken.ID `json:"k"`
	Expires int64       `json:"e"` // Unix seconds
}

var errNoSession = errors.New("no console session")

// sealer seals and opens console sessions.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	if len(key) < 32 {
		return sealer{}, errors.New("console: SessionKey must hold at least 32 bytes")
	}
	k, err := hkdf.Key(sha256.New, key, nil, "tessera console session v1", 32)
	if err != nil {
		return sealer{}, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

// aad binds a cookie to its tenant: one sealed for another tenant does not
// open, wherever it is replayed.
func aad(t tenant.ID) []byte { return []byte("console/" + string(t)) }

func (s sealer) seal(cs consoleSession) string {
	pt, _ := json.Marshal(cs) // plain struct of strings and an int: cannot fail
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, pt, aad(cs.Tenant)))
}

// open returns the session sealed in value for tenant t, if it is still
// within its lifetime at now.
func (s sealer) open(value string, t tenant.ID, now time.Time) (*consoleSession, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n+s.aead.Overhead() {
		return nil, errNoSession
	}
	pt, err := s.aead.Open(nil, raw[:n], raw[n:], aad(t))
	if err != nil {
		return nil, errNoSession
	}
	var cs consoleSession
	if err := json.Unmarshal(pt, &cs); err != nil || cs.Tenant != t || !now.Before(time.Unix(cs.Expires, 0)) {
		return nil, errNoSession
	}
	return &cs, nil
}

// setCookie sets a cookie for the console's pages of one tenant only:
// HttpOnly, SameSite=Strict (no other site can make the browser send it),
// Secure when Tessera is reached over HTTPS. maxAge 0 makes a
// browser-session cookie; negative deletes it.
func (h *Handler) setCookie(w http.ResponseWriter, slug, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/t/" + slug + "/console/", HttpOnly: true, Secure: h.secure(),
		SameSite: http.SameSiteStrictMode}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge.Seconds())
	case maxAge < 0:
		c.MaxAge = -1
		c.Value = ""
	}
	http.SetCookie(w, c)
}
