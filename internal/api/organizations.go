package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/web"
)

type domainJSON struct {
	Domain     string  `json:"domain"`
	Verified   bool    `json:"verified"`
	VerifiedAt *string `json:"verified_at"`
	// The DNS TXT record that proves control: name and value.
	VerificationRecord struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"verification_record"`
}

type organizationJSON struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	ExternalID *string      `json:"external_id"`
	Status     string       `json:"status"`
	Domains    []domainJSON `json:"domains"`
	Version    int64        `json:"version"`
	CreatedAt  *string      `json:"created_at"`
	UpdatedAt  *string      `json:"updated_at"`
}

func organizationView(o *tenant.Organization) organizationJSON {
	v := organizationJSON{ID: string(o.ID), Name: o.Name, ExternalID: orNil(o.ExternalID), Status: o.Status,
		Domains: []domainJSON{}, Version: o.Version, CreatedAt: timeText(o.Created), UpdatedAt: timeText(o.Updated)}
	for _, d := range o.Domains {
		dj := domainJSON{Domain: d.Name, Verified: d.Verified, VerifiedAt: timeText(d.VerifiedAt)}
		dj.VerificationRecord.Name, dj.VerificationRecord.Value = d.VerificationRecord()
		v.Domains = append(v.Domains, dj)
	}
	return v
}

func (a *API) createOrganization(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name       string   `json:"name"`
		ExternalID string   `json:"external_id"`
		Status     string   `json:"status"`
		Domains    []string `json:"domains"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	o, err := a.Tenants.CreateOrganization(r.Context(), scope(r), tenant.NewOrganization{Name: in.Name,
		ExternalID: in.ExternalID, Status: in.Status, Domains: in.Domains})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/organizations/"+string(o.ID))
	return writeVersioned(w, http.StatusCreated, o.Version, organizationView(o))
}

func (a *API) showOrganization(w http.ResponseWriter, r *http.Request) error {
	o, err := a.Tenants.Organization(r.Context(), scope(r), tenant.OrgID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, o.Version, organizationView(o))
}

func (a *API) listOrganizations(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, append(pageParams, "status", "external_id", "name_prefix")...); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := a.Tenants.ListOrganizations(r.Context(), scope(r), tenant.OrgQuery{Request: pr, Status: q.Get("status"),
		ExternalID: q.Get("external_id"), NamePrefix: q.Get("name_prefix")})
	if err != nil {
		return err
	}
	views := make([]organizationJSON, len(p.Items))
	for i := range p.Items {
		views[i] = organizationView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

func (a *API) updateOrganization(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		Name       web.Optional[string] `json:"name"`
		ExternalID web.Optional[string] `json:"external_id"`
		Status     web.Optional[string] `json:"status"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Name.Null {
		return errkind.Field("name", "cannot be removed")
	}
	if in.Status.Null {
		return errkind.Field("status", "cannot be removed")
	}
	o, err := a.Tenants.UpdateOrganization(r.Context(), scope(r), tenant.OrgID(r.PathValue("id")),
		tenant.OrganizationPatch{Name: in.Name.Ptr(), ExternalID: in.ExternalID.Ptr(), Status: in.Status.Ptr()}, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, o.Version, organizationView(o))
}

func (a *API) deleteOrganization(w http.ResponseWriter, r *http.Request) error {
	if err := a.Tenants.DeleteOrganization(r.Context(), scope(r), tenant.OrgID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addOrganizationDomain(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Domain string `json:"domain"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	o, err := a.Tenants.AddDomain(r.Context(), scope(r), tenant.OrgID(r.PathValue("id")), in.Domain)
	if err != nil {
		return err
	}
	name, _ := tenant.NormalizeDomain("domain", in.Domain)
	w.Header().Set("Location", "/api/v1/organizations/"+string(o.ID)+"/domains/"+name)
	return writeVersioned(w, http.StatusCreated, o.Version, organizationView(o))
}

func (a *API) removeOrganizationDomain(w http.ResponseWriter, r *http.Request) error {
	o, err := a.Tenants.RemoveDomain(r.Context(), scope(r), tenant.OrgID(r.PathValue("id")), r.PathValue("domain"))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, o.Version, organizationView(o))
}

func (a *API) verifyOrganizationDomain(w http.ResponseWriter, r *http.Request) error {
	o, err := a.Tenants.VerifyDomain(r.Context(), scope(r), tenant.OrgID(r.PathValue("id")), r.PathValue("domain"))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, o.Version, organizationView(o))
}
