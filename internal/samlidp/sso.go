package samlidp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// holdFor is how long a request waits for its browser to sign in.
const holdFor = 15 * time.Minute

// pending is a checked AuthnRequest on its way to an answer.
type pending struct {
	app        access.AppID
	requestID  string
	acs        string
	relayState string
	force      bool      // ForceAuthn: a session from before the request will not do
	passive    bool      // IsPassive: the user must not be asked anything
	created    time.Time // when the request arrived
	expires    time.Time // when its id may be forgotten (SAML core §1.3.4: ids are not reused)
}

func pendingOf(ar *authnRequest, now time.Time) *pending {
	skew := time.Duration(ar.config.ClockSkewSeconds) * time.Second
	return &pending{app: ar.app.ID, requestID: ar.ID, acs: ar.acs.URL, relayState: ar.relayState,
		force: ar.ForceAuthn != nil && *ar.ForceAuthn, passive: ar.IsPassive != nil && *ar.IsPassive,
		created: now, expires: ar.IssueInstant.Add(maxRequestAge + skew)}
}

// record is p as the session domain keeps it.
func (p *pending) record(t tenant.ID) *session.SSORequest {
	d := map[string]string{"acs": p.acs, "relay_state": p.relayState}
	if p.force {
		d["force_authn"] = "true"
	}
	if p.passive {
		d["is_passive"] = "true"
	}
	return &session.SSORequest{Tenant: t, App: p.app, ID: p.requestID, Data: d, Expires: p.expires}
}

// hold is p as the session domain keeps it while its browser signs in:
// for holdFor at least, however soon the request itself would expire.
func (p *pending) hold(t tenant.ID) *session.SSORequest {
	r := p.record(t)
	if until := p.created.Add(holdFor); until.After(r.Expires) {
		r.Expires = until
	}
	return r
}

func pendingFromRecord(r *session.SSORequest) *pending {
	return &pending{app: r.App, requestID: r.ID, acs: r.Data["acs"], relayState: r.Data["relay_state"],
		force: r.Data["force_authn"] == "true", passive: r.Data["is_passive"] == "true", created: r.Created, expires: r.Expires}
}

// verdict is what to do with a pending request given the browser's session.
type verdict int

const (
	verdictAnswer    verdict = iota // answer with an assertion now
	verdictSignIn                   // sign in first, then come back
	verdictNoPassive                // answer NoPassive: signing in would mean asking the user
	verdictNeedsMFA                 // refuse: signed in anew, still without the second factor the application needs
)

// decide weighs a session (nil: none) against p. A session satisfies a
// request unless ForceAuthn asks for one opened after the request (SAML
// core §3.4.1) or the application needs a second factor the session lacks;
// then the user signs in again, once. IsPassive forbids asking, so it
// answers NoPassive instead, even with ForceAuthn (SAML core §3.4.1).
func decide(p *pending, ses *session.Session, mfaRequired bool) verdict {
	if ses != nil {
		fresh := !ses.Created.Before(p.created)
		mfaOK := !mfaRequired || ses.MFA()
		switch {
		case mfaOK && (fresh || !p.force):
			return verdictAnswer
		case fresh:
			return verdictNeedsMFA
		}
	}
	if p.passive {
		return verdictNoPassive
	}
	return verdictSignIn
}

// ssoRedirect receives an AuthnRequest by the HTTP-Redirect binding. The
// browser brought its cookies (a top-level GET), so it is answered now.
func (h *Handler) ssoRedirect(q *req) error {
	m, _, err := readRedirect(q.r, ssoInbound)
	if err != nil {
		return err
	}
	ar, err := h.checkRequest(q, m)
	if err != nil {
		return err
	}
	a := &answer{app: ar.app, config: ar.config, acs: ar.acs.URL}
	if !nameIDPolicyMet(ar) {
		return h.refusePolicy(q, ar, a)
	}
	return h.proceed(q, pendingOf(ar, h.Now()), a, "")
}

// ssoPost receives an AuthnRequest by the HTTP-POST binding. A cross-site
// POST does not carry the SameSite=Lax session cookie, so the request is
// held and the browser sent to /saml/resume, a same-site GET that does.
func (h *Handler) ssoPost(q *req) error {
	m, _, err := readPost(q.w, q.r, ssoInbound)
	if err != nil {
		return err
	}
	ar, err := h.checkRequest(q, m)
	if err != nil {
		return err
	}
	if !nameIDPolicyMet(ar) {
		return h.refusePolicy(q, ar, &answer{app: ar.app, config: ar.config, acs: ar.acs.URL})
	}
	secret, err := h.Sessions.HoldRequest(q.ctx(), pendingOf(ar, h.Now()).hold(q.tenant.ID))
	if err != nil {
		return replayed(err)
	}
	http.Redirect(q.w, q.r, h.resumePath(q, secret), http.StatusSeeOther)
	return nil
}

// nameIDPolicyMet reports whether the name identifier format the request
// asks for, if any, is the application's (SAML core §3.4.1.1; unspecified
// leaves the choice to the IdP).
func nameIDPolicyMet(ar *authnRequest) bool {
	if ar.NameIDPolicy == nil || ar.NameIDPolicy.Format == nil {
		return true
	}
	f := *ar.NameIDPolicy.Format
	return f == "" || f == access.NameIDFormatUnspecified || f == ar.config.NameIDFormat
}

// refusePolicy answers a request for a name identifier format the
// application is not configured with: InvalidNameIDPolicy, at once, since
// no sign-in would change it.
func (h *Handler) refusePolicy(q *req, ar *authnRequest, a *answer) error {
	a.request = pendingOf(ar, h.Now()).record(q.tenant.ID)
	a.inResponseTo, a.relayState = ar.ID, ar.relayState
	return h.respondStatus(q, a, saml.StatusInvalidNameIDPolicy)
}

// resume continues a held request, after a sign-in or straight from
// ssoPost.
func (h *Handler) resume(q *req) error {
	secret := q.r.URL.Query().Get("request")
	r, err := h.Sessions.HeldRequest(q.ctx(), q.tenant.ID, secret)
	if errors.Is(err, session.ErrTokenInvalid) {
		return errStale
	}
	if err != nil {
		return err
	}
	p := pendingFromRecord(r)
	a, err := h.answerTo(q, p.app, p.acs)
	if err != nil {
		return err
	}
	return h.proceed(q, p, a, secret)
}

var errStale = refuse(http.StatusBadRequest, "Sign-in request expired",
	"This sign-in request has expired or was already used. Go back to the application and sign in again.")

// replayed turns a replayed request id into a page.
func replayed(err error) error {
	if errors.Is(err, session.ErrReplay) {
		return refuse(http.StatusBadRequest, "Sign-in request already used",
			"This sign-in request was already received. Go back to the application and sign in again.")
	}
	return err
}

func (h *Handler) resumePath(q *req, secret string) string {
	return q.base() + "/saml/resume?request=" + url.QueryEscape(secret)
}

// proceed answers p (through a) or sends the browser to sign in first.
// secret holds p when it is held already (else ""): a request is held while
// its browser signs in, and recorded, to be refused if replayed, once
// answered.
func (h *Handler) proceed(q *req, p *pending, a *answer, secret string) error {
	a.inResponseTo, a.relayState = p.requestID, p.relayState
	ses, u, err := h.signedIn(q)
	if err != nil {
		return err
	}
	mfa := false
	if u != nil {
		if mfa, err = h.Sessions.MFARequired(q.ctx(), q.tenant.ID, u.Org, a.app.ID); err != nil {
			return err
		}
	}
	v := decide(p, ses, mfa)
	if v == verdictSignIn {
		if secret == "" {
			if secret, err = h.Sessions.HoldRequest(q.ctx(), p.hold(q.tenant.ID)); err != nil {
				return replayed(err)
			}
		}
		return h.signIn(q, h.resumePath(q, secret))
	}
	if secret == "" {
		// Recorded with whatever answers it, in the same transaction.
		a.request = p.record(q.tenant.ID)
	} else if _, err = h.Sessions.TakeRequest(q.ctx(), q.tenant.ID, secret); errors.Is(err, session.ErrTokenInvalid) {
		return errStale // answered meanwhile, in another tab
	} else if err != nil {
		return err
	}
	switch v {
	case verdictNoPassive:
		return h.respondStatus(q, a, saml.StatusNoPassive)
	case verdictNeedsMFA:
		return h.refuseSSO(q, ses, a, reasonMFA)
	}
	return h.respond(q, a, ses, u)
}

// launch starts an IdP-initiated sign-in from the portal (SAML profiles
// §4.1.5): an unsolicited response to the application's default endpoint,
// with the RelayState the link names or the application's default.
func (h *Handler) launch(q *req) error {
	a, err := h.answerTo(q, access.AppID(q.r.PathValue("app")), "")
	if err != nil {
		return err
	}
	a.relayState = a.config.RelayStateDefault
	if rs, ok := q.r.URL.Query()["RelayState"]; ok {
		if len(rs) != 1 || len(rs[0]) > access.MaxRelayStateLength || strings.ContainsFunc(rs[0], isControl) {
			return refuse(http.StatusBadRequest, "Invalid link", fmt.Sprintf(
				"The link's RelayState must be one value of at most %d printable bytes.", access.MaxRelayStateLength))
		}
		a.relayState = rs[0]
	}
	return h.respondSignedIn(q, a)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// answerTo loads the application an answer goes to, as it is now: active,
// of kind saml, configured, and still registering acs ("" for its default
// endpoint).
func (h *Handler) answerTo(q *req, app access.AppID, acs string) (*answer, error) {
	sc := tenant.Scope{Tenant: q.tenant.ID}
	gone := refuse(http.StatusNotFound, "Unknown application", "There is no such SAML application here.")
	a, err := h.Access.Application(q.ctx(), sc, app)
	if errors.Is(err, errkind.NotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	cfg, err := h.Access.SAMLConfig(q.ctx(), sc, app)
	if errors.Is(err, errkind.NotFound) || (err == nil && a.Kind != access.KindSAML) {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	if a.Status != access.AppActive {
		return nil, unavailable(a)
	}
	endpoint := cfg.DefaultACS()
	if acs != "" {
		var ok bool
		if endpoint, ok = cfg.ACSByURL(acs); !ok {
			return nil, errStale // the application's endpoints changed meanwhile
		}
	}
	if err := checkEndpoint(endpoint, cfg); err != nil {
		return nil, err
	}
	return &answer{app: a, config: cfg, acs: endpoint.URL}, nil
}

// respondSignedIn answers an unsolicited sign-in (a portal launch, a test
// sign-in) for the browser's user: through the sign-in pages first when
// there is no session, refused when the application needs a second factor
// the session lacks.
func (h *Handler) respondSignedIn(q *req, a *answer) error {
	ses, u, err := h.signedIn(q)
	if err != nil {
		return err
	}
	if ses == nil {
		return h.signIn(q, q.r.URL.RequestURI())
	}
	mfa, err := h.Sessions.MFARequired(q.ctx(), q.tenant.ID, u.Org, a.app.ID)
	if err != nil {
		return err
	}
	if mfa && !ses.MFA() {
		return h.refuseSSO(q, ses, a, reasonMFA)
	}
	return h.respond(q, a, ses, u)
}
