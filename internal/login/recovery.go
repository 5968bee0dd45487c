package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/mail"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// Recovery: "forgot password or locked out" sends a link by mail; the links
// open pages whose buttons (POST) do the change, so that mail scanners that
// fetch links do not use them up.

func (h *Handler) forgotPage(q *req) error {
	h.render(q, http.StatusOK, "forgot", pageData{Title: "Forgot your password?"})
	return nil
}

// forgotSent is the one answer for every login, known or not.
const forgotSent = "If an account matches, a link is on its way to its email address. It works once and expires soon."

func (h *Handler) forgot(q *req) error {
	login := q.r.PostFormValue("login")
	if login == "" || len(login) > maxLogin {
		h.render(q, http.StatusBadRequest, "forgot", pageData{Title: "Forgot your password?", Error: "Enter your username or email."})
		return nil
	}
	link, err := h.Sessions.RequestRecovery(q.ctx(), q.tenant.ID, login)
	if err != nil {
		return err
	}
	if link != nil {
		h.sendLink(q.ctx(), q.tenant, link)
	}
	h.render(q, http.StatusOK, "forgot", pageData{Title: "Check your email", Notice: forgotSent})
	return nil
}

// sendLink queues the mail for a link; delivery happens after the answer,
// so the answer takes as long whether or not there was mail to send.
func (h *Handler) sendLink(ctx context.Context, t *tenant.Tenant, l *session.Link) {
	page := map[string]string{session.PurposePasswordReset: "reset", session.PurposeUnlock: "unlock",
		session.PurposeVerifyEmail: "verify-email"}[l.Purpose]
	href := h.linkBase(t) + "/t/" + t.Slug + "/login/" + page + "?token=" + url.QueryEscape(l.Token)
	mt := mail.Tenant{Slug: t.Slug, Name: t.Name}
	var m mail.Message
	switch l.Purpose {
	case session.PurposePasswordReset:
		m = mail.PasswordReset(mt, l.Email, href, l.TTL)
	case session.PurposeUnlock:
		m = mail.AccountUnlock(mt, l.Email, href, l.TTL)
	default:
		m = mail.EmailVerification(mt, l.Email, href, l.TTL)
	}
	if err := h.Mail.Enqueue(m); err != nil {
		h.Log.ErrorContext(ctx, "queue mail", "kind", m.Kind, "err", err)
	}
}

// linkExpired is the page of a link used up, expired or made up.
func (h *Handler) linkExpired(q *req) error {
	h.render(q, http.StatusBadRequest, "message", pageData{Title: "Link expired",
		Error: "This link was already used or has expired. Ask for a new one from the sign-in page."})
	return nil
}

// linkPage shows the page a mailed link opens, if the link is still good.
func (h *Handler) linkPage(q *req, purpose string, show func(token, username string)) error {
	token := q.r.URL.Query().Get("token")
	u, err := h.Sessions.LinkUser(q.ctx(), q.tenant.ID, purpose, token)
	if errors.Is(err, session.ErrTokenInvalid) {
		return h.linkExpired(q)
	}
	if err != nil {
		return err
	}
	show(token, u.Username)
	return nil
}

type resetView struct {
	Token    string
	Username string
	Rules    string
}

func (h *Handler) resetPage(q *req) error {
	return h.linkPage(q, session.PurposePasswordReset, func(token, username string) {
		h.render(q, http.StatusOK, "reset", pageData{Title: "Choose a new password",
			Data: resetView{Token: token, Username: username, Rules: h.passwordRules(q)}})
	})
}

// passwordRules says what the tenant's policy asks of a password.
func (h *Handler) passwordRules(q *req) string {
	p, err := h.Users.PasswordPolicy(q.ctx(), q.tenant.ID)
	if err != nil {
		return ""
	}
	rules := []string{fmt.Sprintf("At least %d characters", p.MinLength)}
	for _, r := range []struct {
		on   bool
		text string
	}{{p.RequireLower, "a lower-case letter"}, {p.RequireUpper, "an upper-case letter"}, {p.RequireDigit, "a digit"},
		{p.RequireSymbol, "a symbol"}} {
		if r.on {
			rules = append(rules, r.text)
		}
	}
	s := strings.Join(rules, ", ") + "."
	if p.HistoryCount > 0 {
		s += fmt.Sprintf(" Not one of your last %d passwords.", p.HistoryCount)
	}
	return s
}

// policyMessage joins a refused password's reasons for the page.
func policyMessage(err error) (string, bool) {
	if !errors.Is(err, errkind.Invalid) {
		return "", false
	}
	var msgs []string
	for _, f := range errkind.Fields(err) {
		msgs = append(msgs, f.Message)
	}
	if len(msgs) == 0 {
		return "", false
	}
	return "The password " + strings.Join(msgs, "; ") + ".", true
}

func (h *Handler) reset(q *req) error {
	token := q.r.PostFormValue("token")
	u, err := h.Sessions.ResetPassword(q.ctx(), q.tenant.ID, token, q.r.PostFormValue("password"))
	if msg, ok := policyMessage(err); ok && !errors.Is(err, session.ErrTokenInvalid) {
		h.render(q, http.StatusBadRequest, "reset", pageData{Title: "Choose a new password", Error: msg,
			Data: resetView{Token: token, Username: q.r.PostFormValue("username"), Rules: h.passwordRules(q)}})
		return nil
	}
	if errors.Is(err, session.ErrTokenInvalid) {
		return h.linkExpired(q)
	}
	if err != nil {
		return err
	}
	if e := u.PrimaryEmail().Value; e != "" {
		if err := h.Mail.Enqueue(mail.PasswordChanged(mail.Tenant{Slug: q.slug, Name: q.tenant.Name}, e)); err != nil {
			h.Log.ErrorContext(q.ctx(), "queue mail", "kind", mail.KindPasswordChanged, "err", err)
		}
	}
	h.clearCookie(q.w, q.slug, sessionCookie)
	h.render(q, http.StatusOK, "message", pageData{Title: "Password changed",
		Notice: "Your password is changed and you are signed out everywhere. Sign in with the new password."})
	return nil
}

type confirmView struct {
	Text, Action, Button, Token string
}

// confirmPage shows a mailed link's page: a question and the button whose
// POST to action does the change.
func (h *Handler) confirmPage(q *req, purpose, title, question, action, button string) error {
	return h.linkPage(q, purpose, func(token, username string) {
		h.render(q, http.StatusOK, "confirm", pageData{Title: title, Data: confirmView{
			Text: question + " " + username + "?", Action: q.base() + action, Button: button, Token: token}})
	})
}

func (h *Handler) unlockPage(q *req) error {
	return h.confirmPage(q, session.PurposeUnlock, "Unlock your account", "Unlock the account", "/login/unlock", "Unlock")
}

func (h *Handler) unlock(q *req) error {
	_, err := h.Sessions.Unlock(q.ctx(), q.tenant.ID, q.r.PostFormValue("token"))
	return h.linkDone(q, err, "Account unlocked", "Your account is unlocked. You can sign in again.")
}

func (h *Handler) verifyEmailPage(q *req) error {
	return h.confirmPage(q, session.PurposeVerifyEmail, "Verify your email", "Confirm the email address of", "/login/verify-email", "Verify")
}

func (h *Handler) verifyEmail(q *req) error {
	_, err := h.Sessions.VerifyEmail(q.ctx(), q.tenant.ID, q.r.PostFormValue("token"))
	return h.linkDone(q, err, "Email verified", "Your email address is verified.")
}

func (h *Handler) linkDone(q *req, err error, title, notice string) error {
	if errors.Is(err, session.ErrTokenInvalid) {
		return h.linkExpired(q)
	}
	if err != nil {
		return err
	}
	h.render(q, http.StatusOK, "message", pageData{Title: title, Notice: notice})
	return nil
}
