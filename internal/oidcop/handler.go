package oidcop

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Handler serves the OpenID provider of every tenant.
type Handler struct {
	Tenants  *tenant.Service
	Users    *user.Service
	Groups   *group.Service
	Access   *access.Service
	Sessions *session.Service
	Grants   *grant.Service
	Keys     *keys.Service
	Log      *slog.Logger
	Now      func() time.Time
	// PublicURL is the external base URL; each tenant's issuer is
	// PublicURL/t/{slug} (access.NewOIDCIssuer).
	PublicURL string
	// CSRFKey keys the consent form's token, as the sign-in pages' (the
	// two share the browser's CSRF cookie).
	CSRFKey []byte
	// LogoutClient delivers back-channel logout tokens and fetches
	// private_key_jwt clients' jwks_uri; nil: a client with a 5-second
	// timeout.
	LogoutClient *http.Client

	provider *op.Provider
	pages    map[string]*template.Template
	// parsedKeys holds the tenants' parsed public signing keys by key id.
	parsedKeys *sync.Map
	// jwks holds private_key_jwt clients' fetched JWK Sets by URI.
	jwks *sync.Map
}

// Paths of the provider's endpoints under the issuer.
const (
	pathAuthorize  = "oauth2/authorize"
	pathToken      = "oauth2/token"
	pathUserinfo   = "oauth2/userinfo"
	pathIntrospect = "oauth2/introspect"
	pathRevoke     = "oauth2/revoke"
	pathEndSession = "oauth2/end_session"
	pathKeys       = "oauth2/keys"
)

// browserCookie binds authorization requests to the browser that made them.
const browserCookie = "tessera_oauth"

// New builds the provider.
func New(h Handler) (*Handler, error) {
	h.PublicURL = strings.TrimSuffix(h.PublicURL, "/")
	if h.LogoutClient == nil {
		h.LogoutClient = &http.Client{Timeout: 5 * time.Second}
	}
	pages, err := web.ParsePages(templateFS, nil)
	if err != nil {
		return nil, err
	}
	h.pages = pages
	h.parsedKeys, h.jwks = &sync.Map{}, &sync.Map{}
	cfg := &op.Config{
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		AuthMethodPrivateKeyJWT:           true,
		GrantTypeRefreshToken:             true,
		SupportedScopes:                   access.OIDCStandardScopes,
		SupportedClaims:                   supportedClaims,
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(pathAuthorize), op.NewEndpoint(pathToken), op.NewEndpoint(pathUserinfo),
			op.NewEndpoint(pathRevoke), op.NewEndpoint(pathEndSession), op.NewEndpoint(pathKeys)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(pathIntrospect)),
		op.WithCrypto(tokenCodec{}),
		// Any origin may call the endpoints meant for it (token, userinfo,
		// ...) from a browser, but never with the browser's cookies.
		op.WithCORSOptions(&cors.Options{AllowOriginFunc: func(string) bool { return true }, AllowCredentials: false,
			AllowedHeaders: []string{"Origin", "Accept", "Accept-Language", "Authorization", "Content-Type", "X-Requested-With"},
			AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost}, ExposedHeaders: []string{"Location", "Content-Length"}}),
		op.WithLogger(h.Log),
	}
	if strings.HasPrefix(h.PublicURL, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(cfg, &storage{h: &h}, func(bool) (op.IssuerFromRequest, error) {
		return func(r *http.Request) string { return infoFrom(r.Context()).issuer }, nil
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	h.provider = p
	return &h, nil
}

// reqInfo is what the provider's calls into storage need to know of the
// request: the tenant, its issuer, the browser, and the signing algorithm
// of the client at hand (set once the client is known).
type reqInfo struct {
	tenant  *tenant.Tenant
	issuer  string
	browser string // digest of the browser-binding cookie; "" when none
	session string // the session cookie's value; "" when none
	alg     string
	// assertedClient is the client a verified private_key_jwt assertion
	// authenticated (client credentials, where the library does not);
	// client is the client the grant authenticated.
	assertedClient string
	client         *client
	// What this request read already, for the library's repeated asks:
	// clients by id, users by id, claims by user, client and scopes.
	clients map[string]*client
	users   map[user.ID]*user.User
	claims  map[string]map[string]any
	access  *liveToken
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// serveProvider resolves the tenant and hands the request to the provider
// with the tenant's path prefix removed, so that one provider serves every
// tenant under its own issuer.
func (h *Handler) serveProvider(w http.ResponseWriter, r *http.Request) {
	t, err := h.Tenants.TenantBySlug(r.Context(), r.PathValue("tenant"))
	if err != nil {
		if !errors.Is(err, tenant.ErrNotFound) {
			h.Log.ErrorContext(r.Context(), "resolve tenant", "err", err)
		}
		http.NotFound(w, r)
		return
	}
	info := &reqInfo{tenant: t, issuer: h.issuer(r, t), alg: keys.RS256}
	if c, err := r.Cookie(session.CookieName); err == nil {
		info.session = c.Value
	}
	rest := strings.TrimPrefix(r.URL.Path, "/t/"+t.Slug)
	if rest == "/"+pathAuthorize {
		info.browser = h.bindBrowser(w, r, t.Slug)
	} else if c, err := r.Cookie(browserCookie); err == nil {
		info.browser = grant.Hash(c.Value)
	}
	ctx := audit.WithActor(context.WithValue(r.Context(), infoKey{}, info),
		audit.Anonymous(web.ClientIP(r.Context()), r.UserAgent(), web.RequestID(r.Context())))
	switch rest {
	case "/.well-known/openid-configuration":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.discovery(ctx, w, info)
		return
	case "/" + pathToken, "/" + pathIntrospect, "/" + pathRevoke:
		if r.Method == http.MethodOptions {
			break // CORS preflight
		}
		if r.URL.RawQuery != "" {
			// RFC 6749 §2.3.1, §3.2: credentials and grants go in the body,
			// never in a URL that logs keep.
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send the parameters in the request body")
			return
		}
		if err := h.authenticateClient(ctx, r, info, rest == "/"+pathToken); err != nil {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
			return
		}
	case "/" + pathUserinfo:
		if !h.checkUserinfoToken(ctx, w, r) {
			return
		}
	}
	if strings.HasPrefix(rest, "/"+pathAuthorize) {
		w = &issWriter{ResponseWriter: w, issuer: info.issuer}
	}
	r2 := r.Clone(ctx)
	r2.URL.Path, r2.URL.RawPath = rest, ""
	w.Header().Set("Cache-Control", "no-store")
	h.provider.ServeHTTP(w, r2)
}

// issuer is the tenant's issuer as this request reaches it: /t/{slug} on
// the tenant's own domain when the request came there (its sign-in pages
// and cookies live on that host, under /t/{slug} as everywhere), else on
// the public URL. Both name the same provider; a token carries the one it
// was issued under.
func (h *Handler) issuer(r *http.Request, t *tenant.Tenant) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if t.Domain != "" && strings.EqualFold(host, t.Domain) {
		scheme, _, _ := strings.Cut(h.PublicURL, "://")
		return access.OIDCIssuer(scheme+"://"+r.Host, t.Slug)
	}
	return access.OIDCIssuer(h.PublicURL, t.Slug)
}

// ownIssuer reports whether iss is one of tenant t's issuers.
func (h *Handler) ownIssuer(iss string, t *tenant.Tenant) bool {
	if iss == access.OIDCIssuer(h.PublicURL, t.Slug) {
		return true
	}
	u, err := url.Parse(iss)
	return err == nil && t.Domain != "" && strings.EqualFold(u.Hostname(), t.Domain) && u.Path == "/t/"+t.Slug
}

// bindBrowser returns the digest of the browser's binding cookie, setting
// one when it has none.
func (h *Handler) bindBrowser(w http.ResponseWriter, r *http.Request, slug string) string {
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) >= 32 {
		return grant.Hash(c.Value)
	}
	v := grant.NewSecret("b")
	http.SetCookie(w, &http.Cookie{Name: browserCookie, Value: v, Path: "/t/" + slug + "/", HttpOnly: true,
		Secure: h.secure(), SameSite: http.SameSiteLaxMode})
	return grant.Hash(v)
}

// page is one of the provider's own pages (sign-in hand-over, consent).
type page struct {
	w      http.ResponseWriter
	r      *http.Request
	tenant *tenant.Tenant
	nonce  string
}

func (q *page) ctx() context.Context { return q.r.Context() }
func (q *page) base() string         { return "/t/" + q.tenant.Slug }

// pageData is what a template sees.
type pageData struct {
	Title      string
	TenantName string
	Nonce      string
	Detail     string
	RequestID  string
	CSRF       string
	Refresh    string // a URL the page moves on to at once
	Data       any
}

// refusal is an error shown to the person at the browser as it says.
type refusal struct {
	status        int
	title, detail string
}

func (e *refusal) Error() string { return e.title + ": " + e.detail }

// pageHandler resolves the tenant, sets the headers and shows errors.
func (h *Handler) pageHandler(fn func(q *page) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &page{w: w, r: r, nonce: web.NewNonce()}
		// No script at all; forms only to us.
		web.SetPageHeaders(w, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'")
		t, err := h.Tenants.TenantBySlug(r.Context(), r.PathValue("tenant"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		q.tenant = t
		q.r = r.WithContext(audit.WithActor(r.Context(), audit.Anonymous(web.ClientIP(r.Context()), r.UserAgent(), web.RequestID(r.Context()))))
		if err := fn(q); err != nil {
			h.fail(q, err)
		}
	})
}

// fail shows err as a page.
func (h *Handler) fail(q *page, err error) {
	d := pageData{Title: "Sign-in failed"}
	status := http.StatusInternalServerError
	var rf *refusal
	if errors.As(err, &rf) {
		status, d.Title, d.Detail = rf.status, rf.title, rf.detail
	} else {
		h.Log.ErrorContext(q.ctx(), "oidc page failed", "err", err, "path", q.r.URL.Path)
		d.Detail = "Something went wrong on our side. If it keeps happening, tell your administrator the request id below."
		d.RequestID = web.RequestID(q.ctx())
	}
	h.render(q, status, "error", d)
}

// render writes a page, buffered so that a template error is a clean 500.
func (h *Handler) render(q *page, status int, name string, d pageData) {
	d.Nonce, d.TenantName = q.nonce, q.tenant.Name
	if err := web.WritePage(q.w, h.pages[name], "layout", status, d); err != nil {
		h.Log.ErrorContext(q.ctx(), "render page", "page", name, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
	}
}

// writeOAuthError answers a token-endpoint request with an OAuth error
// (RFC 6749 §5.2).
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	web.JSON(w, status, map[string]string{"error": code, "error_description": description})
}

// fault hides a server fault from the client, which would otherwise read
// the error's text as the error_description: it is logged, and answered
// as server_error with the request id only. OAuth errors pass as they are.
func (h *Handler) fault(ctx context.Context, err error) error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return err
	}
	h.Log.ErrorContext(ctx, "oidc provider fault", "err", err)
	return oidc.ErrServerError().WithDescription("internal error (request id %s)", web.RequestID(ctx))
}
