package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/web"
)

type groupJSON struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Description    string  `json:"description"`
	OrganizationID *string `json:"organization_id"`
	ExternalID     *string `json:"external_id"`
	Members        int     `json:"member_count"`
	Version        int64   `json:"version"`
	CreatedAt      *string `json:"created_at"`
	UpdatedAt      *string `json:"updated_at"`
}

func groupView(g *group.Group) groupJSON {
	return groupJSON{ID: string(g.ID), Name: g.Name, Description: g.Description, OrganizationID: orNil(string(g.Org)),
		ExternalID: orNil(g.ExternalID), Members: g.Members, Version: g.Version, CreatedAt: timeText(g.Created), UpdatedAt: timeText(g.Updated)}
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name           string `json:"name"`
		Description    string `json:"description"`
		OrganizationID string `json:"organization_id"`
		ExternalID     string `json:"external_id"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	g, err := a.Groups.Create(r.Context(), scope(r), group.NewGroup{Name: in.Name, Description: in.Description,
		Org: tenant.OrgID(in.OrganizationID), ExternalID: in.ExternalID})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/groups/"+string(g.ID))
	return writeVersioned(w, http.StatusCreated, g.Version, groupView(g))
}

func (a *API) showGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.Groups.Group(r.Context(), scope(r), group.ID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, g.Version, groupView(g))
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, append(pageParams, "organization_id", "name_prefix", "member")...); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := a.Groups.List(r.Context(), scope(r), group.Query{Request: pr, Org: tenant.OrgID(q.Get("organization_id")),
		NamePrefix: q.Get("name_prefix"), Member: user.ID(q.Get("member"))})
	if err != nil {
		return err
	}
	views := make([]groupJSON, len(p.Items))
	for i := range p.Items {
		views[i] = groupView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		Name        web.Optional[string] `json:"name"`
		Description web.Optional[string] `json:"description"`
		ExternalID  web.Optional[string] `json:"external_id"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Name.Null {
		return errkind.Field("name", "cannot be removed")
	}
	g, err := a.Groups.Update(r.Context(), scope(r), group.ID(r.PathValue("id")),
		group.Patch{Name: in.Name.Ptr(), Description: in.Description.Ptr(), ExternalID: in.ExternalID.Ptr()}, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, g.Version, groupView(g))
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := a.Groups.Delete(r.Context(), scope(r), group.ID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listGroupMembers(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, pageParams...); err != nil {
		return err
	}
	g, err := a.Groups.Group(r.Context(), scope(r), group.ID(r.PathValue("id")))
	if err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := a.Users.List(r.Context(), scope(r), user.Query{Request: pr, Group: string(g.ID)})
	if err != nil {
		return err
	}
	views := make([]userJSON, len(p.Items))
	for i := range p.Items {
		views[i] = userView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

func (a *API) addGroupMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.Groups.AddMember(r.Context(), scope(r), group.ID(r.PathValue("id")), user.ID(r.PathValue("user_id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) removeGroupMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.Groups.RemoveMember(r.Context(), scope(r), group.ID(r.PathValue("id")), user.ID(r.PathValue("user_id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
