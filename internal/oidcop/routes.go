package oidcop

import "net/http"

// Routes registers the provider on the server's top-level mux, outside the
// sign-in pages' cross-origin protection: the token, userinfo,
// introspection and revocation endpoints are called from other origins by
// design (browser apps with CORS, servers). The consent form, the one
// form here a browser posts, keeps both protections: its own CSRF token
// and the cross-origin check.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/t/{tenant}/.well-known/openid-configuration", h.serveProvider)
	mux.HandleFunc("/t/{tenant}/oauth2/", h.serveProvider)
	mux.Handle("GET /t/{tenant}/oauth2/login", h.pageHandler(h.continueLogin))
	mux.Handle("POST /t/{tenant}/oauth2/consent", http.NewCrossOriginProtection().Handler(h.pageHandler(h.consent)))
}
