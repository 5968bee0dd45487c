package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/web"
)

type appRoleJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type seatsJSON struct {
	Licensed  int  `json:"licensed"`  // 0: unlimited
	Used      int  `json:"used"`      // users with access now
	Remaining *int `json:"remaining"` // null when unlimited
}

type applicationJSON struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	Status    string        `json:"status"`
	LogoURL   string        `json:"logo_url"`
	LaunchURL string        `json:"launch_url"`
	Roles     []appRoleJSON `json:"roles"`
	Seats     int           `json:"seats"`
	Version   int64         `json:"version"`
	CreatedAt *string       `json:"created_at"`
	UpdatedAt *string       `json:"updated_at"`
}

func applicationView(a *access.Application) applicationJSON {
	v := applicationJSON{ID: string(a.ID), Name: a.Name, Kind: a.Kind, Status: a.Status, LogoURL: a.LogoURL, LaunchURL: a.LaunchURL, Roles: []appRoleJSON{},
		Seats: a.Seats, Version: a.Version, CreatedAt: timeText(a.Created), UpdatedAt: timeText(a.Updated)}
	for _, r := range a.Roles {
		v.Roles = append(v.Roles, appRoleJSON(r))
	}
	return v
}

func rolesIn(rs []appRoleJSON) []access.AppRole {
	out := make([]access.AppRole, len(rs))
	for i, r := range rs {
		out[i] = access.AppRole(r)
	}
	return out
}

func (a *API) createApplication(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string        `json:"name"`
		Kind      string        `json:"kind"`
		Status    string        `json:"status"`
		LogoURL   string        `json:"logo_url"`
		LaunchURL string        `json:"launch_url"`
		Roles     []appRoleJSON `json:"roles"`
		Seats     int           `json:"seats"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	app, err := a.Access.CreateApplication(r.Context(), scope(r), access.NewApplication{Name: in.Name, Kind: in.Kind,
		Status: in.Status, LogoURL: in.LogoURL, LaunchURL: in.LaunchURL, Roles: rolesIn(in.Roles), Seats: in.Seats})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/applications/"+string(app.ID))
	return writeVersioned(w, http.StatusCreated, app.Version, applicationView(app))
}

func (a *API) showApplication(w http.ResponseWriter, r *http.Request) error {
	app, err := a.Access.Application(r.Context(), scope(r), access.AppID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, app.Version, applicationView(app))
}

func (a *API) listApplications(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, append(pageParams, "kind", "status", "name_prefix")...); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := a.Access.ListApplications(r.Context(), scope(r), access.AppQuery{Request: pr, Kind: q.Get("kind"),
		Status: q.Get("status"), NamePrefix: q.Get("name_prefix")})
	if err != nil {
		return err
	}
	views := make([]applicationJSON, len(p.Items))
	for i := range p.Items {
		views[i] = applicationView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

func (a *API) updateApplication(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in struct {
		Name      web.Optional[string]        `json:"name"`
		Status    web.Optional[string]        `json:"status"`
		LogoURL   web.Optional[string]        `json:"logo_url"`
		LaunchURL web.Optional[string]        `json:"launch_url"`
		Roles     web.Optional[[]appRoleJSON] `json:"roles"`
		Seats     web.Optional[int]           `json:"seats"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	for field, null := range map[string]bool{"name": in.Name.Null, "status": in.Status.Null} {
		if null {
			return errkind.Field(field, "cannot be removed")
		}
	}
	p := access.AppPatch{Name: in.Name.Ptr(), Status: in.Status.Ptr(), LogoURL: in.LogoURL.Ptr(), LaunchURL: in.LaunchURL.Ptr(), Seats: in.Seats.Ptr()}
	if in.Roles.Set {
		roles := rolesIn(in.Roles.Value)
		p.Roles = &roles
	}
	app, err := a.Access.UpdateApplication(r.Context(), scope(r), access.AppID(r.PathValue("id")), p, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, app.Version, applicationView(app))
}

func (a *API) deleteApplication(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.DeleteApplication(r.Context(), scope(r), access.AppID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) showApplicationSeats(w http.ResponseWriter, r *http.Request) error {
	s, err := a.Access.SeatsOf(r.Context(), scope(r), access.AppID(r.PathValue("id")))
	if err != nil {
		return err
	}
	v := seatsJSON{Licensed: s.Licensed, Used: s.Used}
	if s.Remaining >= 0 {
		v.Remaining = &s.Remaining
	}
	web.JSON(w, http.StatusOK, v)
	return nil
}

type assignmentJSON struct {
	ID            string   `json:"id"`
	ApplicationID string   `json:"application_id"`
	PrincipalType string   `json:"principal_type"`
	PrincipalID   string   `json:"principal_id"`
	Roles         []string `json:"roles"`
	CreatedAt     *string  `json:"created_at"`
	UpdatedAt     *string  `json:"updated_at"`
}

func assignmentView(as *access.Assignment) assignmentJSON {
	return assignmentJSON{ID: string(as.ID), ApplicationID: string(as.App), PrincipalType: as.Principal.Type,
		PrincipalID: as.Principal.ID, Roles: as.Roles, CreatedAt: timeText(as.Created), UpdatedAt: timeText(as.Updated)}
}

func (a *API) createAssignment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PrincipalType string   `json:"principal_type"`
		PrincipalID   string   `json:"principal_id"`
		Roles         []string `json:"roles"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	app := access.AppID(r.PathValue("id"))
	as, err := a.Access.Assign(r.Context(), scope(r), app, access.NewAssignment{
		Principal: access.Principal{Type: in.PrincipalType, ID: in.PrincipalID}, Roles: in.Roles})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/applications/"+string(app)+"/assignments/"+string(as.ID))
	web.JSON(w, http.StatusCreated, assignmentView(as))
	return nil
}

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, "limit", "cursor", "order"); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := a.Access.ListAssignments(r.Context(), scope(r), access.AppID(r.PathValue("id")), pr)
	if err != nil {
		return err
	}
	views := make([]assignmentJSON, len(p.Items))
	for i := range p.Items {
		views[i] = assignmentView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

func (a *API) updateAssignment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Roles web.Optional[[]string] `json:"roles"` // null removes every role
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if !in.Roles.Set {
		return errkind.Field("roles", "is required: the assignment's roles are all it has to change")
	}
	as, err := a.Access.SetAssignmentRoles(r.Context(), scope(r), access.AppID(r.PathValue("id")),
		access.AssignmentID(r.PathValue("assignment_id")), in.Roles.Value)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, assignmentView(as))
	return nil
}

func (a *API) deleteAssignment(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.Unassign(r.Context(), scope(r), access.AppID(r.PathValue("id")), access.AssignmentID(r.PathValue("assignment_id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
