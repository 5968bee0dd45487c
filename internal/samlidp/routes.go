package samlidp

import "net/http"

// Routes registers the IdP's endpoints on the mux of the tenants' pages.
// POST /t/{tenant}/saml/sso arrives from the application's origin by design
// (SAML bindings §3.5): the cross-origin check lets it through (see
// login.Protect); every other POST stays protected.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("GET /t/{tenant}/saml/metadata", h.page(h.metadata))
	mux.Handle("GET /t/{tenant}/saml/sso", h.page(h.ssoRedirect))
	mux.Handle("POST /t/{tenant}/saml/sso", h.page(h.ssoPost))
	mux.Handle("GET /t/{tenant}/saml/resume", h.page(h.resume))
	mux.Handle("GET /t/{tenant}/saml/launch/{app}", h.page(h.launch))
}
