package samlidp

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handler serves the SAML identity provider of every tenant.
type Handler struct {
	Tenants  *tenant.Service
	Users    *user.Service
	Groups   *group.Service
	Access   *access.Service
	Sessions *session.Service
	Keys     *keys.Service
	Log      *slog.Logger
	Now      func() time.Time
	// PublicURL is the external base URL (scheme://host[:port]): entity ids
	// and endpoint URLs are built on it, never on the request's Host.
	PublicURL string
	// Pairwise keys the digests behind persistent name identifiers and
	// session indexes (the server derives it from the master key, which
	// never changes): stable per user and application, and unlinkable
	// across applications.
	Pairwise keys.Digester

	pages    map[string]*template.Template
	branding *brandingCache
}

// New prepares the templates.
func New(h Handler) (*Handler, error) {
	h.PublicURL = strings.TrimSuffix(h.PublicURL, "/")
	pages, err := web.ParsePages(templateFS, nil)
	if err != nil {
		return nil, err
	}
	h.pages = pages
	h.branding = &brandingCache{}
	return &h, nil
}

// entityID is the tenant's IdP entity id, which is also where its metadata
// lives (SAML metadata §4.1.1, the well-known location convention). The
// URLs come from access.SAMLIdP, which the admin API's setup view shows.
func (h *Handler) entityID(t *tenant.Tenant) string {
	return access.NewSAMLIdP(h.PublicURL, t.Slug).EntityID()
}

// ssoURL is the tenant's single sign-on endpoint, for both bindings.
func (h *Handler) ssoURL(t *tenant.Tenant) string {
	return access.NewSAMLIdP(h.PublicURL, t.Slug).SSO()
}

// req is one request with its tenant.
type req struct {
	w      http.ResponseWriter
	r      *http.Request
	tenant *tenant.Tenant
	nonce  string
}

func (q *req) ctx() context.Context { return q.r.Context() }

// base is the path prefix of the tenant's pages.
func (q *req) base() string { return "/t/" + q.tenant.Slug }

// handlerFunc is an endpoint; an error it returns is shown as a page.
type handlerFunc func(q *req) error

// page resolves the tenant, sets the headers every answer gets and shows
// errors.
func (h *Handler) page(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &req{w: w, r: r, nonce: web.NewNonce()}
		setHeaders(w, q.nonce, "")
		t, err := h.Tenants.TenantBySlug(r.Context(), r.PathValue("tenant"))
		if err != nil {
			if !errors.Is(err, tenant.ErrNotFound) {
				h.Log.ErrorContext(r.Context(), "resolve tenant", "err", err)
			}
			http.Error(w, "Not found", http.StatusNotFound)
			return
		}
		q.tenant = t
		ctx := audit.WithActor(r.Context(), audit.Anonymous(web.ClientIP(r.Context()), r.UserAgent(), web.RequestID(r.Context())))
		q.r = r.WithContext(ctx)
		if err := fn(q); err != nil {
			h.fail(q, err)
		}
	})
}

// setHeaders: a strict CSP (the stylesheet from us; a script only with
// this response's nonce; forms only to formAction, none when empty), no
// framing, no referrer (URLs carry single-use tokens), no caching.
func setHeaders(w http.ResponseWriter, nonce, formAction string) {
	if formAction == "" {
		formAction = "'none'"
	}
	web.SetPageHeaders(w, "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'self'; img-src 'self'; "+
		"form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// refusal is a request Tessera does not answer: an error page for the
// person at the browser that says what went wrong and what to do. Nothing
// goes to the application, whose endpoint may not even be known.
type refusal struct {
	status int
	title  string
	detail string
	portal bool // offer the way back to the portal (the user is signed in)
}

func (e *refusal) Error() string { return e.title + ": " + e.detail }

func refuse(status int, title, detail string) error {
	return &refusal{status: status, title: title, detail: detail}
}

// unavailable refuses to sign in to an application that is switched off.
func unavailable(a *access.Application) error {
	return refuse(http.StatusForbidden, "Application unavailable", a.Name+" is switched off. Try again later.")
}

// pageData is what a template sees.
type pageData struct {
	Title      string
	TenantName string
	Nonce      string
	Detail     string
	RequestID  string
	Portal     string
	Data       any
}

// fail shows err as a page: a refusal as it says, anything else by its
// kind, and faults as a generic page with the request id.
func (h *Handler) fail(q *req, err error) {
	d := pageData{Title: "Sign-in failed"}
	status := http.StatusInternalServerError
	var rf *refusal
	if errors.As(err, &rf) {
		status, d.Title, d.Detail = rf.status, rf.title, rf.detail
		if rf.portal {
			d.Portal = q.base() + "/"
		}
	} else {
		p := web.ProblemFor(err)
		status = p.Status
		d.Detail = p.Detail
		if status >= 500 {
			h.Log.ErrorContext(q.ctx(), "saml request failed", "err", err, "path", q.r.URL.Path)
			d.Detail = "Something went wrong on our side. If it keeps happening, tell your administrator the request id below."
			d.RequestID = web.RequestID(q.ctx())
		}
	}
	h.render(q, status, "error", d)
}

// render writes a page; it buffers so that a template error becomes a clean
// 500 instead of half a page.
func (h *Handler) render(q *req, status int, name string, d pageData) {
	d.Nonce = q.nonce
	d.TenantName = h.tenantName(q.ctx(), q.tenant)
	if err := web.WritePage(q.w, h.pages[name], "layout", status, d); err != nil {
		h.Log.ErrorContext(q.ctx(), "render page", "page", name, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
	}
}

// signedIn returns the browser's live session and its user, or nils when
// it has none; the audit actor becomes the user.
func (h *Handler) signedIn(q *req) (*session.Session, *user.User, error) {
	c, err := q.r.Cookie(session.CookieName)
	if err != nil {
		return nil, nil, nil
	}
	ses, u, err := h.Sessions.SignedIn(q.ctx(), q.tenant.ID, c.Value)
	if err != nil || u == nil {
		return nil, nil, err
	}
	q.r = q.r.WithContext(audit.AsUser(q.ctx(), string(u.ID)))
	return ses, u, nil
}

// signIn sends the browser to the sign-in page, to come back to back (a
// path of this tenant's pages).
func (h *Handler) signIn(q *req, back string) error {
	http.Redirect(q.w, q.r, q.base()+"/login?return="+url.QueryEscape(back), http.StatusSeeOther)
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
