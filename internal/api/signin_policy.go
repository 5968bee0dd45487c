package api

import (
	"errors"
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/web"
)

// The sign-in policy: the tenant's (timeouts, MFA, lockout, self-service
// attributes, branding), an organization's part (MFA, branding) and an
// application's (MFA). PUT replaces a policy whole and needs every member: a
// member left out must not silently switch MFA or lockout off.

// required collects a FieldError for every member a replacement left out
// (or sent as null).
type required []error

func (m *required) need(field string, present bool) {
	if !present {
		*m = append(*m, errkind.Field(field, "is required: PUT replaces the whole policy"))
	}
}

func (m required) err() error { return errors.Join(m...) }

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

type brandingInJSON struct {
	Name            *string `json:"name"`
	LogoURL         *string `json:"logo_url"`
	PrimaryColor    *string `json:"primary_color"`
	BackgroundColor *string `json:"background_color"`
}

// branding reads a branding member named field, noting what it lacks.
func (b *brandingInJSON) branding(field string, m *required) session.Branding {
	m.need(field, b != nil)
	if b == nil {
		return session.Branding{}
	}
	m.need(field+".name", b.Name != nil)
	m.need(field+".logo_url", b.LogoURL != nil)
	m.need(field+".primary_color", b.PrimaryColor != nil)
	m.need(field+".background_color", b.BackgroundColor != nil)
	return session.Branding{Name: deref(b.Name), LogoURL: deref(b.LogoURL), PrimaryColor: deref(b.PrimaryColor),
		BackgroundColor: deref(b.BackgroundColor)}
}

func policyView(p session.Policy) session.Policy {
	if p.EditableAttributes == nil {
		p.EditableAttributes = []string{}
	}
	return p
}

func (a *API) showSignInPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Sessions.Policy(r.Context(), scope(r).Tenant)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, policyView(p))
	return nil
}

func (a *API) replaceSignInPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		IdleTimeout        *session.Seconds `json:"idle_timeout_seconds"`
		AbsoluteTimeout    *session.Seconds `json:"absolute_timeout_seconds"`
		MFA                *string          `json:"mfa"`
		LockoutThreshold   *int             `json:"lockout_threshold"`
		EditableAttributes *[]string        `json:"editable_attributes"`
		Branding           *brandingInJSON  `json:"branding"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	var m required
	m.need("idle_timeout_seconds", in.IdleTimeout != nil)
	m.need("absolute_timeout_seconds", in.AbsoluteTimeout != nil)
	m.need("mfa", in.MFA != nil)
	m.need("lockout_threshold", in.LockoutThreshold != nil)
	m.need("editable_attributes", in.EditableAttributes != nil)
	p := session.Policy{IdleTimeout: deref(in.IdleTimeout), AbsoluteTimeout: deref(in.AbsoluteTimeout), MFA: deref(in.MFA),
		LockoutThreshold: deref(in.LockoutThreshold), EditableAttributes: deref(in.EditableAttributes),
		Branding: in.Branding.branding("branding", &m)}
	if err := m.err(); err != nil {
		return err
	}
	if err := a.Sessions.SetPolicy(r.Context(), scope(r), p); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, policyView(p))
	return nil
}

func (a *API) showOrganizationSignInPolicy(w http.ResponseWriter, r *http.Request) error {
	org := tenant.OrgID(r.PathValue("id"))
	if _, err := a.Tenants.Organization(r.Context(), scope(r), org); err != nil {
		return err
	}
	p, err := a.Sessions.OrgPolicy(r.Context(), scope(r).Tenant, org)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, p)
	return nil
}

func (a *API) replaceOrganizationSignInPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		MFA      *string         `json:"mfa"`
		Branding *brandingInJSON `json:"branding"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	var m required
	m.need("mfa", in.MFA != nil)
	p := session.OrgPolicy{MFA: deref(in.MFA), Branding: in.Branding.branding("branding", &m)}
	if err := m.err(); err != nil {
		return err
	}
	if err := a.Sessions.SetOrgPolicy(r.Context(), scope(r), tenant.OrgID(r.PathValue("id")), p); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, p)
	return nil
}

func (a *API) showApplicationSignInPolicy(w http.ResponseWriter, r *http.Request) error {
	app := access.AppID(r.PathValue("id"))
	if _, err := a.Access.Application(r.Context(), scope(r), app); err != nil {
		return err
	}
	p, err := a.Sessions.AppPolicy(r.Context(), scope(r).Tenant, app)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, p)
	return nil
}

func (a *API) replaceApplicationSignInPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		MFA *string `json:"mfa"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	var m required
	m.need("mfa", in.MFA != nil)
	if err := m.err(); err != nil {
		return err
	}
	p := session.AppPolicy{MFA: *in.MFA}
	if err := a.Sessions.SetAppPolicy(r.Context(), scope(r), access.AppID(r.PathValue("id")), p); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, p)
	return nil
}
