package login

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// The portal: the signed-in user's applications, their profile, and their
// security settings.

type tile struct {
	Name, Logo, URL, Note string
}

// launch opens a bookmark application through Tessera, which checks access
// and records the launch, rather than linking to it directly.
func (h *Handler) launch(q *req) error {
	to, err := h.Sessions.Launch(q.ctx(), q.ses, access.AppID(q.r.PathValue("app")))
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
	return nil
}

func (h *Handler) portal(q *req) error {
	ivs, err := h.Access.PermissionsAt(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, q.user.ID, time.Time{})
	if err != nil {
		return err
	}
	var ids []access.AppID
	for _, iv := range ivs {
		ids = append(ids, iv.App)
	}
	slices.Sort(ids)
	var tiles []tile
	for _, id := range slices.Compact(ids) {
		a, err := h.Access.Application(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, id)
		if errors.Is(err, errkind.NotFound) {
			continue
		}
		if err != nil {
			return err
		}
		t := tile{Name: a.Name, Logo: a.LogoURL}
		switch {
		case a.Kind == access.KindBookmark && a.LaunchURL != "":
			t.URL = q.base() + "/apps/" + string(a.ID) + "/launch"
		case a.Kind == access.KindSAML:
			t.URL = q.base() + "/saml/launch/" + string(a.ID) // IdP-initiated sign-in
		case a.Kind == access.KindOIDC:
			t.Note = "Open it from the application itself"
		}
		tiles = append(tiles, t)
	}
	slices.SortFunc(tiles, func(a, b tile) int { return compareFold(a.Name, b.Name) })
	var verify string
	if e := q.user.PrimaryEmail(); e.Value != "" && !e.Verified {
		verify = e.Value
	}
	h.render(q, http.StatusOK, "portal", pageData{Title: "Your applications", Notice: noticeText(q),
		Data: struct {
			Apps        []tile
			VerifyEmail string
		}{tiles, verify}})
	return nil
}

func compareFold(a, b string) int {
	ka, kb := user.Key(a), user.Key(b)
	switch {
	case ka < kb:
		return -1
	case ka > kb:
		return 1
	}
	return 0
}

// profileField is one editable field of the profile page.
type profileField struct {
	Name, Label, Value, Autocomplete string
}

var standardFields = map[string]struct{ label, autocomplete string }{
	"given_name": {"Given name", "given-name"}, "family_name": {"Family name", "family-name"},
	"display_name": {"Display name", "nickname"}, "phone": {"Phone", "tel"}, "locale": {"Language (e.g. en-GB)", "language"},
	"time_zone": {"Time zone (e.g. Europe/Paris)", "off"},
}

func standardValue(u *user.User, name string) string {
	switch name {
	case "given_name":
		return u.GivenName
	case "family_name":
		return u.FamilyName
	case "display_name":
		return u.DisplayName
	case "phone":
		return u.Phone
	case "locale":
		return u.Locale
	case "time_zone":
		return u.TimeZone
	}
	return ""
}

func (h *Handler) profileFields(q *req) ([]profileField, error) {
	p, err := h.Sessions.Policy(q.ctx(), q.tenant.ID)
	if err != nil {
		return nil, err
	}
	var out []profileField
	for _, name := range p.EditableAttributes {
		if f, ok := standardFields[name]; ok {
			out = append(out, profileField{Name: name, Label: f.label, Value: standardValue(q.user, name), Autocomplete: f.autocomplete})
			continue
		}
		v, _ := q.user.Attributes[name].(string)
		out = append(out, profileField{Name: name, Label: name, Value: v, Autocomplete: "off"})
	}
	return out, nil
}

func (h *Handler) profilePage(q *req) error {
	return h.showProfile(q, http.StatusOK, pageData{Notice: noticeText(q)})
}

func (h *Handler) showProfile(q *req, status int, d pageData) error {
	fields, err := h.profileFields(q)
	if err != nil {
		return err
	}
	e := q.user.PrimaryEmail()
	d.Title = "Your profile"
	d.Data = struct {
		Fields        []profileField
		Email         string
		EmailVerified bool
	}{fields, e.Value, e.Verified}
	h.render(q, status, "profile", d)
	return nil
}

func (h *Handler) saveProfile(q *req) error {
	fields, err := h.profileFields(q)
	if err != nil {
		return err
	}
	var p user.Patch
	for _, f := range fields {
		v := q.r.PostFormValue(f.Name)
		if v == f.Value {
			continue
		}
		switch f.Name {
		case "given_name":
			p.GivenName = &v
		case "family_name":
			p.FamilyName = &v
		case "display_name":
			p.DisplayName = &v
		case "phone":
			p.Phone = &v
		case "locale":
			p.Locale = &v
		case "time_zone":
			p.TimeZone = &v
		default:
			if p.Attributes == nil {
				p.Attributes = map[string]any{}
			}
			if v == "" {
				p.Attributes[f.Name] = nil
			} else {
				p.Attributes[f.Name] = v
			}
		}
	}
	version, _ := strconv.ParseInt(q.r.PostFormValue("version"), 10, 64)
	u, err := h.Users.Update(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, q.user.ID, p, version)
	if errors.Is(err, errkind.Invalid) || errors.Is(err, errkind.Precondition) {
		fe := map[string]string{}
		for _, f := range errkind.Fields(err) {
			fe[f.Field] = f.Message
		}
		msg := "Some fields need attention."
		if errors.Is(err, errkind.Precondition) {
			msg = "Your profile changed elsewhere meanwhile. Check it and save again."
		}
		return h.showProfile(q, http.StatusBadRequest, pageData{Error: msg, FieldErrors: fe})
	}
	if err != nil {
		return err
	}
	q.user = u
	http.Redirect(q.w, q.r, q.base()+"/profile?notice=saved", http.StatusSeeOther)
	return nil
}

func (h *Handler) sendVerification(q *req) error {
	l, err := h.Sessions.RequestEmailVerification(q.ctx(), q.tenant.ID, q.user.ID)
	if err != nil {
		return err
	}
	if l != nil {
		h.sendLink(q.ctx(), q.tenant, l)
	}
	http.Redirect(q.w, q.r, q.base()+"/?notice=verification-sent", http.StatusSeeOther)
	return nil
}

type securityView struct {
	Rules     string
	Factors   []session.Factor
	CodesLeft int
	Required  bool
	Sessions  []session.Session
	Current   session.ID
	Consents  []consentView
}

// consentView is an application the user has let have their details.
type consentView struct {
	App    access.AppID
	Name   string
	Scopes string
	Since  time.Time
}

func (h *Handler) securityPage(q *req) error {
	return h.showSecurity(q, http.StatusOK, pageData{Notice: noticeText(q)})
}

func (h *Handler) showSecurity(q *req, status int, d pageData) error {
	sc := tenant.Scope{Tenant: q.tenant.ID}
	fs, err := h.Sessions.Factors(q.ctx(), sc, q.user.ID)
	if err != nil {
		return err
	}
	left, err := h.Sessions.RecoveryCodesLeft(q.ctx(), q.tenant.ID, q.user.ID)
	if err != nil {
		return err
	}
	req, err := h.Sessions.MFARequired(q.ctx(), q.tenant.ID, q.user.Org, "")
	if err != nil {
		return err
	}
	ss, err := h.Sessions.Sessions(q.ctx(), sc, q.user.ID)
	if err != nil {
		return err
	}
	cs, err := h.consents(q)
	if err != nil {
		return err
	}
	d.Title = "Security"
	d.Data = securityView{Rules: h.passwordRules(q), Factors: fs, CodesLeft: left, Required: req, Sessions: ss, Current: q.ses.ID,
		Consents: cs}
	h.render(q, status, "security", d)
	return nil
}

func (h *Handler) securityDone(q *req, notice string) error {
	http.Redirect(q.w, q.r, q.base()+"/security?notice="+notice, http.StatusSeeOther)
	return nil
}

func (h *Handler) changePassword(q *req) error {
	err := h.Sessions.ChangePassword(q.ctx(), q.ses, q.r.PostFormValue("current"), q.r.PostFormValue("new"))
	if errors.Is(err, user.ErrBadCredentials) {
		return h.showSecurity(q, http.StatusBadRequest, pageData{Error: "The current password is not right."})
	}
	if msg, ok := policyMessage(err); ok {
		return h.showSecurity(q, http.StatusBadRequest, pageData{Error: msg})
	}
	if err != nil {
		return err
	}
	return h.securityDone(q, "password-changed")
}

func (h *Handler) addTOTP(q *req) error {
	e, err := h.Sessions.BeginTOTP(q.ctx(), q.tenant.ID, q.user, q.tenant.Name)
	if err != nil {
		return err
	}
	v, err := totpSetup(e, q.base()+"/security/totp/confirm")
	if err != nil {
		return err
	}
	h.render(q, http.StatusOK, "totp_setup", pageData{Title: "Add an authenticator app", Data: v})
	return nil
}

func (h *Handler) addTOTPConfirm(q *req) error {
	codes, err := h.Sessions.ConfirmTOTP(q.ctx(), q.tenant.ID, q.user.ID, q.r.PostFormValue("enrolment"),
		q.r.PostFormValue("code"), q.r.PostFormValue("name"))
	if errors.Is(err, session.ErrBadCode) {
		return h.retryTOTPSetup(q, "", http.StatusBadRequest, "That code is not right. Try the next one.")
	}
	if errors.Is(err, session.ErrTokenInvalid) {
		return h.securityDone(q, "setup-expired")
	}
	if err != nil {
		return err
	}
	h.showCodes(q, codes, q.base()+"/security?notice=totp-added")
	return nil
}

func (h *Handler) removeFactor(q *req) error {
	err := h.Sessions.RemoveFactor(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, q.user.ID, session.FactorID(q.r.PathValue("factor")))
	if err != nil {
		return err
	}
	return h.securityDone(q, "factor-removed")
}

func (h *Handler) regenerateCodes(q *req) error {
	codes, err := h.Sessions.RegenerateRecoveryCodes(q.ctx(), q.tenant.ID, q.user.ID)
	if err != nil {
		return err
	}
	h.showCodes(q, codes, q.base()+"/security")
	return nil
}

func (h *Handler) revokeSession(q *req) error {
	err := h.Sessions.Revoke(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, q.user.ID, session.ID(q.r.PathValue("session")), "user")
	if err != nil {
		return err
	}
	return h.securityDone(q, "session-revoked")
}

// consents lists the applications the user has consented to, by name.
func (h *Handler) consents(q *req) ([]consentView, error) {
	cs, err := h.Grants.Consents(q.ctx(), q.tenant.ID, q.user.ID)
	if err != nil {
		return nil, err
	}
	var out []consentView
	for _, c := range cs {
		a, err := h.Access.Application(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, c.App)
		if errors.Is(err, access.ErrAppNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, consentView{App: c.App, Name: a.Name, Scopes: strings.Join(c.Scopes, ", "), Since: c.Created})
	}
	return out, nil
}

// revokeConsent takes back the user's consent to an application, which
// ends what the application was given.
func (h *Handler) revokeConsent(q *req) error {
	if _, err := h.Grants.RevokeConsent(q.ctx(), q.tenant.ID, q.user.ID, access.AppID(q.r.PathValue("app"))); err != nil {
		return err
	}
	return h.securityDone(q, "consent-revoked")
}

// signOutEverywhere ends every session of the user, this one too.
func (h *Handler) signOutEverywhere(q *req) error {
	if _, err := h.Sessions.RevokeAll(q.ctx(), tenant.Scope{Tenant: q.tenant.ID}, q.user.ID, "", "user signed out everywhere"); err != nil {
		return err
	}
	h.clearCookie(q.w, q.slug, sessionCookie)
	q.user = nil
	h.render(q, http.StatusOK, "message", pageData{Title: "Signed out everywhere", Notice: "You are signed out on every device."})
	return nil
}

// notices are the confirmations a redirect may ask a page to show: by key,
// so that a crafted link cannot put its own words on the page.
var notices = map[string]string{
	"saved":             "Saved.",
	"verification-sent": "We sent a verification link to your email address.",
	"password-changed":  "Password changed. Your other sessions are signed out.",
	"setup-expired":     "The set-up expired. Start again.",
	"totp-added":        "Authenticator app added.",
	"factor-removed":    "Factor removed.",
	"session-revoked":   "Signed out there.",
	"consent-revoked":   "Access taken back. The application must ask you again.",
}

func noticeText(q *req) string { return notices[q.r.URL.Query().Get("notice")] }
