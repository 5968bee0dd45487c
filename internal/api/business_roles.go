package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/web"
)

type businessRoleJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Version     int64   `json:"version"`
	CreatedAt   *string `json:"created_at"`
	UpdatedAt   *string `json:"updated_at"`
}

func businessRoleView(b *access.BusinessRole) businessRoleJSON {
	return businessRoleJSON{ID: string(b.ID), Name: b.Name, Description: b.Description, Version: b.Version,
		CreatedAt: timeText(b.Created), UpdatedAt: timeText(b.Updated)}
}

func (a *API) createBusinessRole(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	b, err := a.Access.CreateBusinessRole(r.Context(), scope(r), in.Name, in.Description)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/business-roles/"+string(b.ID))
	return writeVersioned(w, http.StatusCreated, b.Version, businessRoleView(b))
}

func (a *API) showBusinessRole(w http.ResponseWriter, r *http.Request) error {
	b, err := a.Access.BusinessRole(r.Context(), scope(r), access.RoleID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, b.Version, businessRoleView(b))
}

func (a *API) listBusinessRoles(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, append(pageParams, "name_prefix")...); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := a.Access.ListBusinessRoles(r.Context(), scope(r), access.RoleQuery{Request: pr, NamePrefix: r.URL.Query().Get("name_prefix")})
	if err != nil {
		return err
	}
	views := make([]businessRoleJSON, len(p.Items))
	for i := range p.Items {
		views[i] = businessRoleView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

func (a *API) updateBusinessRole(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		Name        web.Optional[string] `json:"name"`
		Description web.Optional[string] `json:"description"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Name.Null {
		return errkind.Field("name", "cannot be removed")
	}
	b, err := a.Access.UpdateBusinessRole(r.Context(), scope(r), access.RoleID(r.PathValue("id")), in.Name.Ptr(), in.Description.Ptr(), version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, b.Version, businessRoleView(b))
}

func (a *API) deleteBusinessRole(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.DeleteBusinessRole(r.Context(), scope(r), access.RoleID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type holderJSON struct {
	HolderType string  `json:"holder_type"`
	HolderID   string  `json:"holder_id"`
	CreatedAt  *string `json:"created_at"`
}

func (a *API) listBusinessRoleHolders(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r); err != nil {
		return err
	}
	hs, err := a.Access.Holders(r.Context(), scope(r), access.RoleID(r.PathValue("id")))
	if err != nil {
		return err
	}
	views := make([]holderJSON, len(hs))
	for i, h := range hs {
		views[i] = holderJSON{HolderType: h.Type, HolderID: h.ID, CreatedAt: timeText(h.Created)}
	}
	return writeList(w, r, views, "")
}

func holderOf(r *http.Request) access.Holder {
	return access.Holder{Type: r.PathValue("holder_type"), ID: r.PathValue("holder_id")}
}

func (a *API) addBusinessRoleHolder(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.AddHolder(r.Context(), scope(r), access.RoleID(r.PathValue("id")), holderOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) removeBusinessRoleHolder(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.RemoveHolder(r.Context(), scope(r), access.RoleID(r.PathValue("id")), holderOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
