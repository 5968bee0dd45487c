package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Handler serves the admin console of every tenant.
type Handler struct {
	Tenants *tenant.Service
	Tokens  *apitoken.Service
	Access  *access.Service
	Keys    *keys.Service
	Log     *slog.Logger
	Now     func() time.Time
	// PublicURL is the external base URL (scheme://host[:port]) that the
	// setup views show the protocol endpoints on; https makes cookies
	// Secure.
	PublicURL string
	// SessionKey seals the session cookie and CSRFKey makes form tokens:
	// keys for these purposes only, derived from the master key.
	SessionKey []byte
	CSRFKey    []byte

	pages  map[string]*template.Template
	sealer sealer
}

// New prepares the templates and the session sealer.
func New(h Handler) (*Handler, error) {
	h.PublicURL = strings.TrimSuffix(h.PublicURL, "/")
	var err error
	if h.pages, err = web.ParsePages(templateFS, nil); err != nil {
		return nil, err
	}
	if h.sealer, err = newSealer(h.SessionKey); err != nil {
		return nil, err
	}
	return &h, nil
}

func (h *Handler) secure() bool { return strings.HasPrefix(h.PublicURL, "https://") }

func (h *Handler) csrf() web.CSRF { return web.CSRF{Key: h.CSRFKey, Cookie: csrfCookie} }

// req is one request's tenant, principal and page scaffolding.
type req struct {
	w      http.ResponseWriter
	r      *http.Request
	tenant *tenant.Tenant
	nonce  string
	token  *apitoken.Token // the signed-in principal; nil on the sign-in pages
}

// base is the path prefix of the tenant's console.
func (q *req) base() string { return "/t/" + q.tenant.Slug + "/console" }

func (q *req) ctx() context.Context { return q.r.Context() }

func (q *req) scope() tenant.Scope { return q.token.Scope() }

// handlerFunc is a page handler; an error it returns is shown as a page.
type handlerFunc func(q *req) error

// page resolves the tenant, sets the headers every page gets and refuses a
// POST without this browser's CSRF token.
func (h *Handler) page(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := web.NewNonce()
		// No script at all, styles only from us or with this response's
		// nonce; no caching: pages show configuration and, once, a client
		// secret.
		web.SetPageHeaders(w, "default-src 'none'; script-src 'none'; style-src 'self' 'nonce-"+nonce+"'; "+
			"img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		t, err := h.Tenants.TenantBySlug(r.Context(), r.PathValue("tenant"))
		if errors.Is(err, errkind.NotFound) {
			http.Error(w, "Not found", http.StatusNotFound)
			return
		}
		if err != nil {
			h.Log.ErrorContext(r.Context(), "console tenant", "err", err)
			http.Error(w, "internal error; quote the request id when reporting it: "+web.RequestID(r.Context()), http.StatusInternalServerError)
			return
		}
		ctx := audit.WithActor(r.Context(), audit.Anonymous(web.ClientIP(r.Context()), r.UserAgent(), web.RequestID(r.Context())))
		q := &req{w: w, r: r.WithContext(ctx), tenant: t, nonce: nonce}
		if r.Method == http.MethodPost && !h.csrf().Check(q.r) {
			h.render(q, http.StatusForbidden, "message", pageData{Title: "Page expired",
				Error: "This form has expired or did not come from this site. Go back, reload the page and try again."})
			return
		}
		if err := fn(q); err != nil {
			h.fail(q, err)
		}
	})
}

// signedIn wraps a page that needs a console session: the cookie must open
// for this tenant, and the token it names must still be live, tenant-wide
// and this tenant's. Without one, the browser goes to the sign-in page.
func (h *Handler) signedIn(fn handlerFunc) http.Handler {
	return h.page(func(q *req) error {
		tok, err := h.principal(q)
		if errors.Is(err, errNoSession) {
			h.clearSession(q)
			http.Redirect(q.w, q.r, q.base()+"/signin", http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		q.token = tok
		a := audit.ActorFrom(q.ctx())
		a.Type, a.ID = "api_token", string(tok.ID)
		q.r = q.r.WithContext(audit.WithActor(q.ctx(), a))
		return fn(q)
	})
}

// principal returns the token of the request's console session.
func (h *Handler) principal(q *req) (*apitoken.Token, error) {
	c, err := q.r.Cookie(sessionCookie)
	if err != nil {
		return nil, errNoSession
	}
	cs, err := h.sealer.open(c.Value, q.tenant.ID, h.Now())
	if err != nil {
		return nil, err
	}
	// The token store is looked up by tenant: a token of another tenant is
	// not in this list, whatever the cookie says.
	toks, err := h.Tokens.List(q.ctx(), tenant.Scope{Tenant: q.tenant.ID})
	if err != nil {
		return nil, fmt.Errorf("console session token: %w", err)
	}
	i := slices.IndexFunc(toks, func(t apitoken.Token) bool { return t.ID == cs.Token })
	if i < 0 || !h.usable(&toks[i]) {
		return nil, errNoSession
	}
	return &toks[i], nil
}

// usable reports whether tok may hold a console session of its tenant now:
// not revoked, not expired, and tenant-wide (an organization-scoped token
// would see the whole tenant's applications and keys here).
func (h *Handler) usable(tok *apitoken.Token) bool {
	now := h.Now()
	return tok.Revoked.IsZero() && (tok.Expires.IsZero() || now.Before(tok.Expires)) && tok.Org == ""
}

// errRole refuses a change to a token whose role does not allow it.
var errRole = fmt.Errorf("this API token's role does not allow changes; sign in with an admin token: %w", errkind.Denied)

// mayChange reports whether the signed-in token may change anything.
func (q *req) mayChange() bool { return q.token.Role == apitoken.Admin }

// allowChange refuses a change to a token that is not an admin's.
func (q *req) allowChange() error {
	if !q.mayChange() {
		return errRole
	}
	return nil
}

// fail shows an error page: not found for unknown objects, forbidden for a
// role that may not, a generic page with the request id for anything else.
func (h *Handler) fail(q *req, err error) {
	p := web.ProblemFor(err)
	if p.Status >= 500 {
		h.Log.ErrorContext(q.ctx(), "console page failed", "err", err, "path", q.r.URL.Path)
		p.Detail += " (request id " + web.RequestID(q.ctx()) + ")"
	}
	h.render(q, p.Status, "message", pageData{Title: p.Title, Error: p.Detail})
}
