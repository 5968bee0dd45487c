package login

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/mail"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Mailer queues mail without waiting for its delivery.
type Mailer interface {
	Enqueue(m mail.Message) error
}

// Handler serves the sign-in pages and the portal of every tenant.
type Handler struct {
	Tenants  *tenant.Service
	Users    *user.Service
	Access   *access.Service
	Sessions *session.Service
	// Grants lists and takes back the user's consent to third-party
	// applications on the security page.
	Grants *grant.Service
	Mail   Mailer
	Log    *slog.Logger
	Now    func() time.Time
	// PublicURL is the external base URL (scheme://host[:port]); links in
	// mail, the WebAuthn relying party and the return-URL check use it,
	// never the request's Host header.
	PublicURL string
	CSRFKey   []byte
	// RatePerMinute bounds form posts per client address (bursts of a
	// third of it); 0 turns the limit off.
	RatePerMinute int

	pages   map[string]*template.Template
	perIP   *limiter
	webauth *webauthnSet
}

// New prepares the templates and limits.
func New(h Handler) (*Handler, error) {
	h.PublicURL = strings.TrimSuffix(h.PublicURL, "/")
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h.pages = pages
	if h.RatePerMinute > 0 {
		h.perIP = newLimiter(h.RatePerMinute, max(1, h.RatePerMinute/3))
	}
	if h.webauth, err = newWebauthnSet(h.PublicURL); err != nil {
		return nil, err
	}
	return &h, nil
}

func (h *Handler) origin() string {
	u, err := url.Parse(h.PublicURL)
	if err != nil {
		return h.PublicURL
	}
	return u.Scheme + "://" + u.Host
}

func (h *Handler) secure() bool { return strings.HasPrefix(h.PublicURL, "https://") }

// tenantOrigin is the origin of a tenant's own domain ("" when it has
// none), with the public URL's scheme and port.
func (h *Handler) tenantOrigin(t *tenant.Tenant) string {
	if t == nil || t.Domain == "" {
		return ""
	}
	u, err := url.Parse(h.PublicURL)
	if err != nil {
		return ""
	}
	host := t.Domain
	if p := u.Port(); p != "" {
		host = net.JoinHostPort(host, p)
	}
	return u.Scheme + "://" + host
}

// linkBase is where links in a tenant's mail point: its own domain when it
// has one, else the public URL.
func (h *Handler) linkBase(t *tenant.Tenant) string {
	if o := h.tenantOrigin(t); o != "" {
		return o
	}
	return h.PublicURL
}

// onTenantDomain reports whether the request came in on the tenant's own
// domain rather than the public host.
func (q *req) onTenantDomain() bool {
	host, _, err := net.SplitHostPort(q.r.Host)
	if err != nil {
		host = q.r.Host
	}
	return q.tenant.Domain != "" && strings.EqualFold(host, q.tenant.Domain)
}

// req is one request's tenant, browser state and page scaffolding.
type req struct {
	w      http.ResponseWriter
	r      *http.Request
	tenant *tenant.Tenant
	slug   string
	nonce  string
	ses    *session.Session // when signed in
	user   *user.User       // when signed in
	// org brands the page before anyone is signed in: the organization
	// whose verified domain the typed email belongs to.
	org tenant.OrgID
}

// base is the path prefix of the tenant's pages.
func (q *req) base() string { return "/t/" + q.slug }

// handlerFunc is a page handler; an error it returns is shown as a page.
type handlerFunc func(q *req) error

// page resolves the tenant and sets the response headers every page gets.
func (h *Handler) page(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("tenant")
		t, err := h.Tenants.TenantBySlug(r.Context(), slug)
		nonce := web.NewNonce()
		// Scripts and styles only from us, inline style only with this
		// response's nonce.
		web.SetPageHeaders(w, "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-"+nonce+"'; "+
			"img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		q := &req{w: w, r: r, slug: slug, nonce: nonce, tenant: t}
		if err != nil {
			h.fail(q, err)
			return
		}
		ctx := audit.WithActor(r.Context(), audit.Anonymous(web.ClientIP(r.Context()), r.UserAgent(), web.RequestID(r.Context())))
		q.r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			if h.perIP != nil && !h.perIP.allow(limitKey(web.ClientIP(ctx)), h.Now()) {
				w.Header().Set("Retry-After", "60")
				h.render(q, http.StatusTooManyRequests, "message", pageData{Title: "Slow down",
					Error: "Too many requests from your network. Wait a minute, then try again."})
				return
			}
			if !h.checkCSRF(q.r) {
				h.render(q, http.StatusForbidden, "message", pageData{Title: "Page expired",
					Error: "This form has expired or did not come from this site. Go back, reload the page and try again."})
				return
			}
		}
		if err := fn(q); err != nil {
			h.fail(q, err)
		}
	})
}

// signedIn wraps a page that needs a session: without one, the browser
// goes to the sign-in page and comes back afterwards.
func (h *Handler) signedIn(fn handlerFunc) http.Handler {
	return h.page(func(q *req) error {
		ses, err := h.Sessions.Validate(q.r.Context(), q.tenant.ID, cookieValue(q.r, sessionCookie))
		if errors.Is(err, session.ErrNoSession) {
			back := q.r.URL.RequestURI()
			if q.r.Method != http.MethodGet {
				back = q.base() + "/"
			}
			http.Redirect(q.w, q.r, q.base()+"/login?return="+url.QueryEscape(back), http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		u, err := h.Users.User(q.r.Context(), tenant.Scope{Tenant: q.tenant.ID}, ses.User)
		if err != nil {
			return err
		}
		q.ses, q.user = ses, u
		q.r = q.r.WithContext(audit.AsUser(q.r.Context(), string(u.ID)))
		return fn(q)
	})
}

// fail shows an error page: not found for unknown tenants and objects, a
// generic page with the request id for anything unexpected.
func (h *Handler) fail(q *req, err error) {
	p := web.ProblemFor(err)
	if p.Status >= 500 {
		h.Log.ErrorContext(q.r.Context(), "page failed", "err", err, "path", q.r.URL.Path)
	}
	if q.tenant == nil {
		http.Error(q.w, "Not found", http.StatusNotFound)
		return
	}
	h.render(q, p.Status, "message", pageData{Title: p.Title, Error: p.Detail})
}

// client is where the request comes from, for sessions and events.
func client(r *http.Request) session.Client {
	return session.Client{IP: web.ClientIP(r.Context()), UserAgent: r.UserAgent()}
}

// Routes registers the pages.
func (h *Handler) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))

	mux.Handle("GET /t/{tenant}/login", h.page(h.identifierPage))
	mux.Handle("POST /t/{tenant}/login", h.page(h.identify))
	mux.Handle("POST /t/{tenant}/login/password", h.page(h.checkPassword))
	mux.Handle("GET /t/{tenant}/login/mfa", h.page(h.mfaPage))
	mux.Handle("POST /t/{tenant}/login/mfa/totp", h.page(h.mfaTOTP))
	mux.Handle("POST /t/{tenant}/login/mfa/recovery", h.page(h.mfaRecovery))
	mux.Handle("POST /t/{tenant}/login/enrol/totp", h.page(h.enrolTOTP))
	mux.Handle("POST /t/{tenant}/login/enrol/totp/confirm", h.page(h.enrolTOTPConfirm))
	mux.Handle("POST /t/{tenant}/login/webauthn/begin", h.page(h.signInWebAuthnBegin))
	mux.Handle("POST /t/{tenant}/login/webauthn/finish", h.page(h.signInWebAuthnFinish))
	mux.Handle("GET /t/{tenant}/login/forgot", h.page(h.forgotPage))
	mux.Handle("POST /t/{tenant}/login/forgot", h.page(h.forgot))
	mux.Handle("GET /t/{tenant}/login/reset", h.page(h.resetPage))
	mux.Handle("POST /t/{tenant}/login/reset", h.page(h.reset))
	mux.Handle("GET /t/{tenant}/login/unlock", h.page(h.unlockPage))
	mux.Handle("POST /t/{tenant}/login/unlock", h.page(h.unlock))
	mux.Handle("GET /t/{tenant}/login/verify-email", h.page(h.verifyEmailPage))
	mux.Handle("POST /t/{tenant}/login/verify-email", h.page(h.verifyEmail))
	mux.Handle("POST /t/{tenant}/logout", h.page(h.logout))

	mux.Handle("GET /t/{tenant}/{$}", h.signedIn(h.portal))
	mux.Handle("GET /t/{tenant}/apps/{app}/launch", h.signedIn(h.launch))
	mux.Handle("GET /t/{tenant}/profile", h.signedIn(h.profilePage))
	mux.Handle("POST /t/{tenant}/profile", h.signedIn(h.saveProfile))
	mux.Handle("POST /t/{tenant}/profile/verify-email", h.signedIn(h.sendVerification))
	mux.Handle("GET /t/{tenant}/security", h.signedIn(h.securityPage))
	mux.Handle("POST /t/{tenant}/security/password", h.signedIn(h.changePassword))
	mux.Handle("POST /t/{tenant}/security/totp", h.signedIn(h.addTOTP))
	mux.Handle("POST /t/{tenant}/security/totp/confirm", h.signedIn(h.addTOTPConfirm))
	mux.Handle("POST /t/{tenant}/security/webauthn/begin", h.signedIn(h.addWebAuthnBegin))
	mux.Handle("POST /t/{tenant}/security/webauthn/finish", h.signedIn(h.addWebAuthnFinish))
	mux.Handle("POST /t/{tenant}/security/factors/{factor}/remove", h.signedIn(h.removeFactor))
	mux.Handle("POST /t/{tenant}/security/recovery-codes", h.signedIn(h.regenerateCodes))
	mux.Handle("POST /t/{tenant}/security/sessions/{session}/revoke", h.signedIn(h.revokeSession))
	mux.Handle("POST /t/{tenant}/security/sessions/revoke-all", h.signedIn(h.signOutEverywhere))
	mux.Handle("POST /t/{tenant}/security/consents/{app}/revoke", h.signedIn(h.revokeConsent))
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// Protect wraps the pages with the browser's cross-origin check (Go's
// http.CrossOriginProtection): a POST that Sec-Fetch-Site or Origin marks
// as coming from another site is refused before any handler runs. The only
// exceptions are endpoints that receive cross-site POSTs by design: the
// SAML IdP's single sign-on and single logout endpoints, where an
// application's page posts its AuthnRequest, LogoutRequest or
// LogoutResponse (SAML bindings §3.5).
func Protect(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.AddInsecureBypassPattern("POST /t/{tenant}/saml/sso")
	p.AddInsecureBypassPattern("POST /t/{tenant}/saml/slo")
	return p.Handler(next)
}

// audited is the context of a request for domain calls.
func (q *req) ctx() context.Context { return q.r.Context() }
