package oidcop

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

// The authorize endpoint sends the browser to LoginURL (client.LoginURL):
// continueLogin weighs the browser's session against the request, sends it
// to the sign-in pages when needed (they bring it back here), checks
// access and consent, and hands the completed request to the library's
// callback, which issues the code.

// expiredLink is the page for a request that is gone or was started in
// another browser.
var expiredLink = &refusal{status: http.StatusBadRequest, title: "Sign-in expired",
	detail: "This sign-in has expired or was started in another browser. Go back to the application and sign in again."}

// pendingLogin is a request on its way, with its client.
type pendingLogin struct {
	r   *grant.Request
	app *access.Application
	cfg *access.OIDCClient
}

// pending returns the request named in the form or query, only to the
// browser that started it.
func (h *Handler) pending(q *page, rid string) (*pendingLogin, error) {
	r, err := h.Grants.Request(q.ctx(), q.tenant.ID, grant.RequestID(rid))
	if errors.Is(err, grant.ErrRequestNotFound) {
		return nil, expiredLink
	}
	if err != nil {
		return nil, err
	}
	c, err := q.r.Cookie(browserCookie)
	if err != nil || grant.Hash(c.Value) != r.Browser {
		return nil, expiredLink
	}
	app, cfg, err := h.Access.OIDCClientByID(q.ctx(), q.tenant.ID, r.Params.ClientID)
	if errors.Is(err, access.ErrUnknownOIDCClient) || errors.Is(err, access.ErrOIDCNotConfigured) {
		return nil, expiredLink
	}
	if err != nil {
		return nil, err
	}
	if app.Status != access.AppActive {
		return nil, &refusal{status: http.StatusForbidden, title: "Application unavailable", detail: app.Name + " is switched off. Try again later."}
	}
	return &pendingLogin{r: r, app: app, cfg: cfg}, nil
}

// loginPath is where the sign-in pages bring the browser back to.
func (q *page) loginPath(rid grant.RequestID) string {
	return q.base() + "/oauth2/login?id=" + url.QueryEscape(string(rid))
}

func (h *Handler) continueLogin(q *page) error {
	p, err := h.pending(q, q.r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	return h.advance(q, p, "")
}

// advance takes a request as far as it can go: every check, whoever calls
// (the hand-over page, or the consent form with the user's answer, which
// must not skip any of them).
func (h *Handler) advance(q *page, p *pendingLogin, answer string) error {
	ses, usr, err := h.signedIn(q)
	if err != nil {
		return err
	}
	mfa := false
	if usr != nil {
		if mfa, err = h.Sessions.MFARequired(q.ctx(), q.tenant.ID, usr.Org, p.app.ID); err != nil {
			return err
		}
	}
	if hint := p.r.Params.Hint; hint != "" && usr != nil && usr.ID != hint {
		// The application asked for another user than the one signed in
		// here: sign in as that user (once), never answer for this one.
		switch {
		case hasPrompt(p.r, oidc.PromptNone):
			return h.answerError(q, p, oidc.ErrLoginRequired().WithDescription("another user is signed in"))
		case !ses.Created.Before(p.r.Created):
			return &refusal{status: http.StatusForbidden, title: "Another account",
				detail: p.app.Name + " asked for another account than the one you signed in with. Go back to " + p.app.Name + " and try again."}
		}
		http.Redirect(q.w, q.r, q.base()+"/login?return="+url.QueryEscape(q.loginPath(p.r.ID)), http.StatusSeeOther)
		return nil
	}
	switch decide(p.r, ses, mfa, h.Now()) {
	case verdictSignIn:
		http.Redirect(q.w, q.r, q.base()+"/login?return="+url.QueryEscape(q.loginPath(p.r.ID)), http.StatusSeeOther)
		return nil
	case verdictLoginRequired:
		return h.answerError(q, p, oidc.ErrLoginRequired())
	case verdictNeedsMFA:
		if err := h.Sessions.RecordSSO(q.ctx(), ses, p.app.ID, "oidc", "mfa_required", nil); err != nil {
			return err
		}
		return &refusal{status: http.StatusForbidden, title: "No access", detail: p.app.Name + " requires two-step verification. " +
			"Add an authenticator app or a passkey on your Security page, sign out, then open " + p.app.Name + " again."}
	}
	reason, err := h.Grants.Allowed(q.ctx(), q.tenant.ID, usr.ID, p.app.ID)
	if err != nil {
		return err
	}
	if reason != "" {
		if err := h.Sessions.RecordSSO(q.ctx(), ses, p.app.ID, "oidc", reason, map[string]any{"client_id": p.cfg.ClientID}); err != nil {
			return err
		}
		return h.answerError(q, p, oidc.ErrAccessDenied().WithDescription("the user may not use this application"))
	}
	if p.cfg.RequireConsent {
		ok, err := h.Grants.Consented(q.ctx(), q.tenant.ID, usr.ID, p.app.ID, p.r.Params.Scopes)
		if err != nil {
			return err
		}
		switch {
		case ok:
		case answer == "deny":
			return h.answerError(q, p, oidc.ErrAccessDenied().WithDescription("the user did not consent"))
		case answer == "allow":
			if err := h.Grants.GiveConsent(q.ctx(), q.tenant.ID, usr.ID, p.app.ID, p.r.Params.Scopes); err != nil {
				return err
			}
		case hasPrompt(p.r, oidc.PromptNone):
			return h.answerError(q, p, &oidc.Error{ErrorType: "consent_required", Description: "the user has not consented yet"})
		default:
			return h.showConsent(q, p, usr)
		}
	}
	return h.complete(q, p, ses)
}

// complete records who signed in and sends the browser to the library's
// callback, which issues the code.
func (h *Handler) complete(q *page, p *pendingLogin, ses *session.Session) error {
	if _, err := h.Grants.Complete(q.ctx(), q.tenant.ID, p.r.ID, ses); err != nil {
		if errors.Is(err, grant.ErrRequestNotFound) {
			return expiredLink
		}
		return err
	}
	issuer := h.issuer(q.r, q.tenant)
	callback := access.NewOIDCEndpoints(issuer).Authorization + "/callback?id=" + url.QueryEscape(string(p.r.ID))
	// A page that moves on by itself rather than a redirect: the browser
	// often arrives here in the redirects that follow a form (the password,
	// the consent), and browsers hold a whole such chain to the form
	// page's CSP form-action ('self'), which the redirect to the
	// application would break. A refresh is a navigation of its own.
	h.render(q, http.StatusOK, "continue", pageData{Title: "Signing you in", Refresh: callback,
		Data: continueData{App: p.app.Name, URL: callback}})
	return nil
}

// continueData is what the continue page shows.
type continueData struct {
	App string
	URL string
}

// answerError sends the browser back to the client with an error
// (OIDC Core §3.1.2.6).
func (h *Handler) answerError(q *page, p *pendingLogin, e *oidc.Error) error {
	iss := h.issuer(q.r, q.tenant)
	op.AuthRequestError(&issWriter{ResponseWriter: q.w, issuer: iss}, q.r.WithContext(op.ContextWithIssuer(q.ctx(), iss)),
		authRequest{r: p.r}, e, h.provider)
	return nil
}

type consentData struct {
	App     string
	User    string
	Scopes  []string
	Request grant.RequestID
	Action  string
}

// scopeWords says what each scope lets the application have.
var scopeWords = map[string]string{
	access.ScopeOpenID:        "Know who you are",
	access.ScopeProfile:       "See your name, user name and profile",
	access.ScopeEmail:         "See your email address",
	access.ScopeGroups:        "See the groups you belong to",
	access.ScopeOrganization:  "See your organization",
	access.ScopeOfflineAccess: "Keep access while you are away",
}

func (h *Handler) showConsent(q *page, p *pendingLogin, usr *user.User) error {
	var words []string
	for _, s := range p.r.Params.Scopes {
		w, ok := scopeWords[s]
		if !ok {
			w = "Use " + s
		}
		words = append(words, w)
	}
	d := pageData{Title: "Allow " + p.app.Name + "?", CSRF: h.csrfToken(q),
		Data: consentData{App: p.app.Name, User: displayName(usr), Scopes: words, Request: p.r.ID, Action: q.base() + "/oauth2/consent"}}
	h.render(q, http.StatusOK, "consent", d)
	return nil
}

// consent takes the user's answer to the consent page.
func (h *Handler) consent(q *page) error {
	if !h.csrf().Check(q.r) {
		return &refusal{status: http.StatusForbidden, title: "Form expired", detail: "Go back to the application and sign in again."}
	}
	p, err := h.pending(q, q.r.PostFormValue("id"))
	if err != nil {
		return err
	}
	answer := q.r.PostFormValue("decision")
	if !p.cfg.RequireConsent || (answer != "allow" && answer != "deny") {
		return expiredLink
	}
	return h.advance(q, p, answer)
}

func (h *Handler) csrf() web.CSRF { return web.CSRF{Key: h.CSRFKey, Cookie: csrfCookie} }

// csrfCookie is the sign-in pages' CSRF cookie, which the consent form
// shares.
const csrfCookie = "tessera_csrf"

func (h *Handler) csrfToken(q *page) string {
	token, seed := h.csrf().Token(q.r)
	if seed != "" {
		http.SetCookie(q.w, &http.Cookie{Name: csrfCookie, Value: seed, Path: q.base() + "/", HttpOnly: true,
			Secure: h.secure(), SameSite: http.SameSiteLaxMode})
	}
	return token
}

// secure reports whether cookies must be Secure: the public URL is https.
func (h *Handler) secure() bool { return strings.HasPrefix(h.PublicURL, "https://") }

// signedIn returns the browser's live session and its user, or nils.
func (h *Handler) signedIn(q *page) (*session.Session, *user.User, error) {
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

func displayName(u *user.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if e := u.PrimaryEmail().Value; e != "" {
		return e
	}
	return u.Username
}

// verdict is what to do with a request given the browser's session.
type verdict int

const (
	verdictProceed       verdict = iota // the session will do
	verdictSignIn                       // sign in (again), then come back
	verdictLoginRequired                // prompt=none, and signing in would mean asking the user
	verdictNeedsMFA                     // signed in anew, still without the second factor the application needs
)

// decide weighs a session (nil: none) against r. prompt=login and max_age
// ask for an authentication after the request or within max_age seconds
// (OIDC Core §3.1.2.1); a session signed in after the request always
// satisfies them, so the user is asked once.
func decide(r *grant.Request, ses *session.Session, mfaRequired bool, now time.Time) verdict {
	if ses != nil {
		fresh := !ses.Created.Before(r.Created)
		recent := r.Params.MaxAge == nil || !ses.Created.Before(now.Add(-time.Duration(*r.Params.MaxAge)*time.Second))
		mfaOK := !mfaRequired || ses.MFA()
		switch {
		case mfaOK && (fresh || (recent && !hasPrompt(r, oidc.PromptLogin))):
			return verdictProceed
		case fresh:
			return verdictNeedsMFA
		}
	}
	if hasPrompt(r, oidc.PromptNone) {
		return verdictLoginRequired
	}
	return verdictSignIn
}

func hasPrompt(r *grant.Request, p string) bool {
	for _, x := range r.Params.Prompt {
		if x == p {
			return true
		}
	}
	return false
}
