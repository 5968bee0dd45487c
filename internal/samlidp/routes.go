package samlidp

import "net/http"

// Routes registers the IdP's endpoints on the mux of the tenants' pages.
// POST /t/{tenant}/saml/sso and POST /t/{tenant}/saml/slo arrive from the
// application's origin by design (SAML bindings §3.5): the cross-origin
// check lets them through (see login.Protect); every other POST stays
// protected. /saml/logout/start is where the portal's sign-out hands over a
// session that applications took part in (see slo.go).
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("GET /t/{tenant}/saml/metadata", h.page(h.metadata))
	mux.Handle("GET /t/{tenant}/saml/sso", h.page(h.ssoRedirect))
	mux.Handle("POST /t/{tenant}/saml/sso", h.page(h.ssoPost))
	mux.Handle("GET /t/{tenant}/saml/resume", h.page(h.resume))
	mux.Handle("GET /t/{tenant}/saml/launch/{app}", h.page(h.launch))
	mux.Handle("GET /t/{tenant}/saml/test/{app}", h.page(h.testSignIn))
	mux.Handle("GET /t/{tenant}/saml/slo", h.page(h.sloRedirect))
	mux.Handle("POST /t/{tenant}/saml/slo", h.page(h.sloPost))
	mux.Handle("GET /t/{tenant}/saml/slo/continue", h.page(h.sloContinue))
	mux.Handle("GET /t/{tenant}/saml/logout/start", h.page(h.logoutStart))
}
