package login

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/pquerna/otp"

	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// The sign-in: identifier first (so that federation can later route by
// email domain), then the password, then a second factor when the user has
// one or the policy requires one.

const maxLogin = 320

func (h *Handler) identifierPage(q *req) error {
	h.render(q, http.StatusOK, "identifier", pageData{Title: "Sign in", Return: h.safeReturn(q, q.r.URL.Query().Get("return"))})
	return nil
}

// identify shows the password step for any identifier: it looks nothing up,
// so the page and its timing are the same whether the account exists.
func (h *Handler) identify(q *req) error {
	login := q.r.PostFormValue("login")
	ret := h.safeReturn(q, q.r.PostFormValue("return"))
	if login == "" || len(login) > maxLogin {
		h.render(q, http.StatusBadRequest, "identifier", pageData{Title: "Sign in", Return: ret,
			Error: "Enter your username or email."})
		return nil
	}
	// A partner's people see their company's branding from here on. It
	// depends on the email's domain alone, never on whether the account
	// exists.
	if o, err := h.Tenants.OrganizationForEmail(q.ctx(), q.tenant.ID, login); err == nil && o.Status == tenant.OrgActive {
		q.org = o.ID
	}
	h.render(q, http.StatusOK, "password", pageData{Title: "Sign in", Return: ret, Login: login})
	return nil
}

func (h *Handler) checkPassword(q *req) error {
	login := q.r.PostFormValue("login")
	ret := h.safeReturn(q, q.r.PostFormValue("return"))
	if login == "" || len(login) > maxLogin {
		http.Redirect(q.w, q.r, q.base()+"/login", http.StatusSeeOther)
		return nil
	}
	// SAML and OIDC will name the application that sent the user here
	// (its MFA policy, the sign-in report); the portal names none.
	out, err := h.Sessions.SignIn(q.ctx(), q.tenant.ID, session.Attempt{Login: login, Password: q.r.PostFormValue("password"),
		Client: client(q.r)})
	var throttled *session.ThrottledError
	switch {
	case errors.As(err, &throttled):
		q.w.Header().Set("Retry-After", fmt.Sprint(int(throttled.Wait.Seconds())+1))
		h.render(q, http.StatusTooManyRequests, "password", pageData{Title: "Sign in", Return: ret, Login: login,
			Error: fmt.Sprintf("Too many failed attempts. Wait %s, then try again.", roundUp(throttled.Wait))})
		return nil
	case errors.Is(err, user.ErrBadCredentials):
		h.render(q, http.StatusUnauthorized, "password", pageData{Title: "Sign in", Return: ret, Login: login,
			Error: "The username or password is not right."})
		return nil
	case err != nil:
		return err
	}
	h.afterStep(q, out, ret)
	return nil
}

func roundUp(d time.Duration) string {
	s := int(d.Seconds() + 0.999)
	if s == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", s)
}

// afterStep moves the browser on: into its new session, or to the second
// factor.
func (h *Handler) afterStep(q *req, out *session.Outcome, ret string) {
	if out.Session != nil {
		h.startSession(q, out)
		http.Redirect(q.w, q.r, ret, http.StatusSeeOther)
		return
	}
	h.setCookie(q.w, q.slug, pendingCookie, out.Pending, 10*time.Minute)
	http.Redirect(q.w, q.r, q.base()+"/login/mfa?return="+url.QueryEscape(ret), http.StatusSeeOther)
}

// startSession sets the new session's cookie. A session the browser held
// before ends: a sign-in always gets a fresh id (no fixation), and a
// browser holds one session.
func (h *Handler) startSession(q *req, out *session.Outcome) {
	if old, err := h.Sessions.Validate(q.ctx(), q.tenant.ID, cookieValue(q.r, sessionCookie)); err == nil {
		if err := h.Sessions.SignOut(q.ctx(), old); err != nil {
			h.Log.WarnContext(q.ctx(), "end the previous session", "err", err)
		}
	}
	h.clearCookie(q.w, q.slug, pendingCookie)
	h.setCookie(q.w, q.slug, sessionCookie, out.Token, 0)
}

type mfaView struct {
	Username string
	TOTP     bool
	WebAuthn bool
}

// pending reads the second-factor step this browser is at.
func (h *Handler) pending(q *req) (*session.Pending, string, bool) {
	secret := cookieValue(q.r, pendingCookie)
	p, err := h.Sessions.PendingStep(q.ctx(), q.tenant.ID, secret)
	if err != nil {
		h.clearCookie(q.w, q.slug, pendingCookie)
		h.render(q, http.StatusBadRequest, "message", pageData{Title: "Sign in again",
			Error: "This sign-in has expired. Sign in again."})
		return nil, "", false
	}
	return p, secret, true
}

func (h *Handler) mfaPage(q *req) error {
	p, _, ok := h.pending(q)
	if !ok {
		return nil
	}
	ret := h.safeReturn(q, q.r.URL.Query().Get("return"))
	h.showMFA(q, p, ret, http.StatusOK, "")
	return nil
}

func (h *Handler) showMFA(q *req, p *session.Pending, ret string, status int, msg string) {
	if p.Enrol {
		h.render(q, status, "enrol", pageData{Title: "Set up a second factor", Return: ret, Error: msg,
			Data: mfaView{Username: p.User.Username}})
		return
	}
	v := mfaView{Username: p.User.Username}
	for _, f := range p.Factors {
		v.TOTP = v.TOTP || f.Kind == session.KindTOTP
		v.WebAuthn = v.WebAuthn || f.Kind == session.KindWebAuthn
	}
	h.render(q, status, "mfa", pageData{Title: "Two-step verification", Return: ret, Error: msg, Data: v})
}

func (h *Handler) mfaTOTP(q *req) error {
	return h.completeMFA(q, func(pending string) (*session.Outcome, error) {
		return h.Sessions.CompleteTOTP(q.ctx(), q.tenant.ID, pending, q.r.PostFormValue("code"), client(q.r))
	})
}

func (h *Handler) mfaRecovery(q *req) error {
	return h.completeMFA(q, func(pending string) (*session.Outcome, error) {
		return h.Sessions.CompleteRecovery(q.ctx(), q.tenant.ID, pending, q.r.PostFormValue("code"), client(q.r))
	})
}

func (h *Handler) completeMFA(q *req, complete func(pending string) (*session.Outcome, error)) error {
	p, secret, ok := h.pending(q)
	if !ok {
		return nil
	}
	ret := h.safeReturn(q, q.r.PostFormValue("return"))
	out, err := complete(secret)
	if msg, status, handled := mfaError(err); handled {
		h.showMFA(q, p, ret, status, msg)
		return nil
	}
	if err != nil {
		return err
	}
	h.afterStep(q, out, ret)
	return nil
}

// mfaError turns a refused second factor into the words shown.
func mfaError(err error) (string, int, bool) {
	var throttled *session.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return fmt.Sprintf("Too many failed attempts. Wait %s, then try again.", roundUp(throttled.Wait)), http.StatusTooManyRequests, true
	case errors.Is(err, session.ErrBadCode):
		return "That code is not right, or was already used. Try the next one.", http.StatusUnauthorized, true
	}
	return "", 0, false
}

// totpView is the TOTP set-up page's data.
type totpView struct {
	QR     template.URL // data: URL of the QR code's PNG that qrDataURL drew (not user data)
	Secret string
	Token  string
	Action string
}

func totpSetup(e *session.TOTPEnrolment, action string) (totpView, error) {
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		return totpView{}, err
	}
	qr, err := qrDataURL(key)
	if err != nil {
		return totpView{}, err
	}
	return totpView{QR: template.URL(qr), Secret: e.Secret, Token: e.Token, Action: action}, nil
}

func (h *Handler) enrolTOTP(q *req) error {
	p, _, ok := h.pending(q)
	if !ok {
		return nil
	}
	if !p.Enrol {
		http.Redirect(q.w, q.r, q.base()+"/login/mfa", http.StatusSeeOther)
		return nil
	}
	e, err := h.Sessions.BeginTOTP(q.ctx(), q.tenant.ID, p.User, q.tenant.Name)
	if err != nil {
		return err
	}
	v, err := totpSetup(e, q.base()+"/login/enrol/totp/confirm")
	if err != nil {
		return err
	}
	h.render(q, http.StatusOK, "totp_setup", pageData{Title: "Set up your authenticator app",
		Return: h.safeReturn(q, q.r.PostFormValue("return")), Data: v})
	return nil
}

func (h *Handler) enrolTOTPConfirm(q *req) error {
	_, secret, ok := h.pending(q)
	if !ok {
		return nil
	}
	ret := h.safeReturn(q, q.r.PostFormValue("return"))
	out, codes, err := h.Sessions.CompleteEnrolTOTP(q.ctx(), q.tenant.ID, secret, q.r.PostFormValue("enrolment"),
		q.r.PostFormValue("code"), q.r.PostFormValue("name"), client(q.r))
	if msg, status, handled := mfaError(err); handled {
		// Show the same secret again: it is still waiting for its code.
		return h.retryTOTPSetup(q, ret, status, msg)
	}
	if err != nil {
		return err
	}
	h.startSession(q, out)
	h.showCodes(q, codes, ret)
	return nil
}

// retryTOTPSetup asks for the code again; the enrolment token in the form
// still holds the secret, so the page shows only the code field.
func (h *Handler) retryTOTPSetup(q *req, ret string, status int, msg string) error {
	h.render(q, status, "totp_setup", pageData{Title: "Set up your authenticator app", Return: ret, Error: msg,
		Data: totpView{Token: q.r.PostFormValue("enrolment"), Action: q.r.URL.Path}})
	return nil
}

func (h *Handler) showCodes(q *req, codes []string, next string) {
	if len(codes) == 0 {
		http.Redirect(q.w, q.r, next, http.StatusSeeOther)
		return
	}
	h.render(q, http.StatusOK, "recovery_codes", pageData{Title: "Save your recovery codes",
		Data: struct {
			Codes []string
			Next  string
		}{codes, next}})
}

func (h *Handler) logout(q *req) error {
	if ses, err := h.Sessions.Validate(q.ctx(), q.tenant.ID, cookieValue(q.r, sessionCookie)); err == nil {
		if err := h.Sessions.SignOut(q.ctx(), ses); err != nil {
			return err
		}
		// Applications that took part in the session are told by their
		// protocol (SAML single logout), which gets the ended session
		// through a single-use hand-over and ends on its own signed-out
		// page: adapters meet through URLs.
		handOver, err := h.Sessions.HandOverLogout(q.ctx(), ses)
		if err != nil {
			return err
		}
		if handOver != "" {
			h.clearCookie(q.w, q.slug, sessionCookie)
			http.Redirect(q.w, q.r, "/t/"+q.slug+"/saml/logout/start?logout="+url.QueryEscape(handOver), http.StatusSeeOther)
			return nil
		}
	}
	h.clearCookie(q.w, q.slug, sessionCookie)
	h.render(q, http.StatusOK, "message", pageData{Title: "Signed out", Notice: "You are signed out."})
	return nil
}
