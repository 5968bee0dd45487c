package login

import (
	"net/url"
	"strings"
)

// safeReturn returns the path a sign-in may end at: a path of this tenant's
// own pages, given either as a path or as an absolute URL on the public
// origin or the tenant's own domain. Anything else (other hosts, scheme-relative "//evil", backslashes
// that browsers read as slashes, javascript: URLs, other tenants) yields the
// portal.
func (h *Handler) safeReturn(q *req, raw string) string {
	home := q.base() + "/"
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\\r\n\t\x00") {
		return home
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return home
	}
	if u.Scheme != "" || u.Host != "" {
		if o := u.Scheme + "://" + u.Host; o != h.origin() && o != h.tenantOrigin(q.tenant) {
			return home
		}
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, home) || strings.HasPrefix(p, "//") {
		return home
	}
	// Dot segments could climb out of the tenant ("/t/a/../b/").
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == ".." || seg == "." {
			return home
		}
	}
	out := p
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}
