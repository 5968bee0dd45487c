package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// tenantHosts serves a tenant's pages on its own domain: a request whose
// Host is a tenant's domain goes to that tenant's pages (/login there is
// /t/{slug}/login), and another tenant's pages are not found there, so one
// customer's domain can never show another's sign-in. Other hosts (the
// public one, addresses, unknown names) pass unchanged; so do the API and
// the static files.
func (s *Server) tenantHosts(next http.Handler) http.Handler {
	public := ""
	if u, err := url.Parse(s.cfg.BaseURL()); err == nil {
		public = u.Hostname()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		host = strings.ToLower(host)
		p := r.URL.Path
		if host == "" || host == public || host == "localhost" || net.ParseIP(host) != nil || !strings.Contains(host, ".") ||
			strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		t, err := s.Tenants.TenantByDomain(r.Context(), host)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		own := "/t/" + t.Slug
		switch {
		case p == own || strings.HasPrefix(p, own+"/"):
		case strings.HasPrefix(p, "/t/"):
			http.NotFound(w, r)
			return
		default:
			r = r.Clone(r.Context())
			r.URL.Path = own + p
			r.URL.RawPath = ""
		}
		next.ServeHTTP(w, r)
	})
}
