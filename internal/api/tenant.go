package api

import (
	"fmt"
	"net/http"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
	"github.com/tessera-iam/tessera/internal/web"
)

type tenantJSON struct {
	ID        string  `json:"id"`
	Slug      string  `json:"slug"`
	Name      string  `json:"name"`
	Domain    *string `json:"domain"`
	Version   int64   `json:"version"`
	CreatedAt *string `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

func tenantView(t *tenant.Tenant) tenantJSON {
	v := tenantJSON{ID: string(t.ID), Slug: t.Slug, Name: t.Name, Version: t.Version,
		CreatedAt: timeText(t.Created), UpdatedAt: timeText(t.Updated)}
	if t.Domain != "" {
		v.Domain = &t.Domain
	}
	return v
}

// tenantChange admits a change to the tenant itself: tenant-wide tokens only.
func tenantChange(r *http.Request) error {
	if !scope(r).TenantWide() {
		return fmt.Errorf("organization-scoped tokens cannot change the tenant: %w", errkind.Denied)
	}
	return nil
}

// setTenantDomain gives the tenant its own host name for the sign-in pages
// and portal, or removes it (null).
func (a *API) setTenantDomain(w http.ResponseWriter, r *http.Request) error {
	if err := tenantChange(r); err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		Domain *string `json:"domain"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	domain := ""
	if in.Domain != nil {
		domain = *in.Domain
	}
	t, err := a.Tenants.SetTenantDomain(r.Context(), scope(r).Tenant, domain, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, t.Version, tenantView(t))
}

func (a *API) showTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.Tenants.Tenant(r.Context(), scope(r).Tenant)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, t.Version, tenantView(t))
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) error {
	if err := tenantChange(r); err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := a.Tenants.RenameTenant(r.Context(), scope(r).Tenant, in.Name, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, t.Version, tenantView(t))
}

func (a *API) showPasswordPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Users.PasswordPolicy(r.Context(), scope(r).Tenant)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, p)
	return nil
}

func (a *API) replacePasswordPolicy(w http.ResponseWriter, r *http.Request) error {
	// Members left out keep their defaults: omitting check_breached must not
	// silently switch that protection off.
	p := password.DefaultPolicy()
	if err := web.DecodeJSON(r, &p); err != nil {
		return err
	}
	if err := a.Users.SetPasswordPolicy(r.Context(), scope(r), p); err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, p)
	return nil
}

func (a *API) showProfileSchema(w http.ResponseWriter, r *http.Request) error {
	s, err := a.Users.ProfileSchema(r.Context(), scope(r).Tenant)
	if err != nil {
		return err
	}
	if s.Attributes == nil {
		s.Attributes = []user.AttributeDef{}
	}
	web.JSON(w, http.StatusOK, s)
	return nil
}

func (a *API) replaceProfileSchema(w http.ResponseWriter, r *http.Request) error {
	var s user.Schema
	if err := web.DecodeJSON(r, &s); err != nil {
		return err
	}
	if err := a.Users.SetProfileSchema(r.Context(), scope(r), s); err != nil {
		return err
	}
	if s.Attributes == nil {
		s.Attributes = []user.AttributeDef{}
	}
	web.JSON(w, http.StatusOK, s)
	return nil
}
