package console

import (
	"io/fs"
	"net/http"
)

// Routes registers the console's pages on the mux of the tenants' pages,
// behind the cross-origin check (login.Protect).
func (h *Handler) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/console/", http.StripPrefix("/static/console/", cacheStatic(http.FileServerFS(static))))

	mux.Handle("GET /t/{tenant}/console", h.page(h.home))
	mux.Handle("GET /t/{tenant}/console/{$}", h.page(h.home))
	mux.Handle("GET /t/{tenant}/console/signin", h.page(h.signInPage))
	mux.Handle("POST /t/{tenant}/console/signin", h.page(h.signIn))
	mux.Handle("POST /t/{tenant}/console/signout", h.page(h.signOut))

	mux.Handle("GET /t/{tenant}/console/applications", h.signedIn(h.listApplications))
	mux.Handle("GET /t/{tenant}/console/applications/{app}", h.signedIn(h.showApplication))
	mux.Handle("GET /t/{tenant}/console/applications/{app}/oidc/secret", h.signedIn(h.confirmSecretRotation))
	mux.Handle("POST /t/{tenant}/console/applications/{app}/oidc/secret", h.signedIn(h.rotateClientSecret))
	mux.Handle("GET /t/{tenant}/console/signing-keys", h.signedIn(h.listSigningKeys))
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
