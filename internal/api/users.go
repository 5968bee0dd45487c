package api

import (
	"errors"
	"net/http"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
	"github.com/tessera-iam/tessera/internal/web"
)

type emailJSON struct {
	Value    string `json:"value"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type userJSON struct {
	ID                string            `json:"id"`
	Username          string            `json:"username"`
	Emails            []emailJSON       `json:"emails"`
	GivenName         string            `json:"given_name"`
	FamilyName        string            `json:"family_name"`
	DisplayName       string            `json:"display_name"`
	Phone             string            `json:"phone"`
	Locale            string            `json:"locale"`
	TimeZone          string            `json:"time_zone"`
	Attributes        map[string]any    `json:"attributes"`
	ExternalIDs       map[string]string `json:"external_ids"`
	OrganizationID    *string           `json:"organization_id"`
	Source            string            `json:"source"`
	Status            user.Status       `json:"status"`
	Locked            bool              `json:"locked"`
	PasswordChangedAt *string           `json:"password_changed_at"`
	StatusChangedAt   *string           `json:"status_changed_at"`
	Version           int64             `json:"version"`
	CreatedAt         *string           `json:"created_at"`
	UpdatedAt         *string           `json:"updated_at"`
}

func userView(u *user.User) userJSON {
	v := userJSON{
		ID: string(u.ID), Username: u.Username, Emails: []emailJSON{}, GivenName: u.GivenName, FamilyName: u.FamilyName,
		DisplayName: u.DisplayName, Phone: u.Phone, Locale: u.Locale, TimeZone: u.TimeZone, Attributes: u.Attributes,
		ExternalIDs: u.ExternalIDs, OrganizationID: orNil(string(u.Org)), Source: u.Source, Status: u.Status, Locked: u.Locked,
		PasswordChangedAt: timeText(u.PasswordChanged), StatusChangedAt: timeText(u.StatusChanged), Version: u.Version,
		CreatedAt: timeText(u.Created), UpdatedAt: timeText(u.Updated),
	}
	for _, e := range u.Emails {
		v.Emails = append(v.Emails, emailJSON(e))
	}
	if v.Attributes == nil {
		v.Attributes = map[string]any{}
	}
	if v.ExternalIDs == nil {
		v.ExternalIDs = map[string]string{}
	}
	return v
}

func emailsIn(es []emailJSON) []user.Email {
	out := make([]user.Email, len(es))
	for i, e := range es {
		out[i] = user.Email(e)
	}
	return out
}

type createUserJSON struct {
	Username       string            `json:"username"`
	Emails         []emailJSON       `json:"emails"`
	GivenName      string            `json:"given_name"`
	FamilyName     string            `json:"family_name"`
	DisplayName    string            `json:"display_name"`
	Phone          string            `json:"phone"`
	Locale         string            `json:"locale"`
	TimeZone       string            `json:"time_zone"`
	Attributes     map[string]any    `json:"attributes"`
	ExternalIDs    map[string]string `json:"external_ids"`
	OrganizationID string            `json:"organization_id"`
	Source         string            `json:"source"`
	Status         user.Status       `json:"status"`
	Password       string            `json:"password"`
	PasswordHash   string            `json:"password_hash"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var in createUserJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := a.Users.Create(r.Context(), scope(r), user.NewUser{
		Username: in.Username, Emails: emailsIn(in.Emails), GivenName: in.GivenName, FamilyName: in.FamilyName,
		DisplayName: in.DisplayName, Phone: in.Phone, Locale: in.Locale, TimeZone: in.TimeZone, Attributes: in.Attributes,
		ExternalIDs: in.ExternalIDs, Org: tenant.OrgID(in.OrganizationID), Source: in.Source, Status: in.Status,
		Password: in.Password, PasswordHash: in.PasswordHash,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+string(u.ID))
	return writeVersioned(w, http.StatusCreated, u.Version, userView(u))
}

func (a *API) showUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.Users.User(r.Context(), scope(r), user.ID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, u.Version, userView(u))
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, append(pageParams, "status", "organization_id", "group_id", "email", "username_prefix", "updated_since")...); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	since, err := timeParam(r, "updated_since")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if g := q.Get("group_id"); g != "" {
		// A group the caller cannot see has no members it may learn about.
		if _, err := a.Groups.Group(r.Context(), scope(r), group.ID(g)); errors.Is(err, errkind.NotFound) {
			return writeList(w, r, []userJSON{}, "")
		} else if err != nil {
			return err
		}
	}
	p, err := a.Users.List(r.Context(), scope(r), user.Query{
		Request: pr, Status: user.Status(q.Get("status")), Org: tenant.OrgID(q.Get("organization_id")),
		Group: q.Get("group_id"), Email: q.Get("email"), UsernamePrefix: q.Get("username_prefix"), UpdatedSince: since,
	})
	if err != nil {
		return err
	}
	views := make([]userJSON, len(p.Items))
	for i := range p.Items {
		views[i] = userView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

type patchUserJSON struct {
	Username       web.Optional[string]       `json:"username"`
	Emails         web.Optional[[]emailJSON]  `json:"emails"`
	GivenName      web.Optional[string]       `json:"given_name"`
	FamilyName     web.Optional[string]       `json:"family_name"`
	DisplayName    web.Optional[string]       `json:"display_name"`
	Phone          web.Optional[string]       `json:"phone"`
	Locale         web.Optional[string]       `json:"locale"`
	TimeZone       web.Optional[string]       `json:"time_zone"`
	OrganizationID web.Optional[tenant.OrgID] `json:"organization_id"`
	// Inside these maps a null member removes that key; null for the whole
	// map removes every key (RFC 7396).
	Attributes  web.Optional[map[string]any]     `json:"attributes"`
	ExternalIDs web.Optional[map[string]*string] `json:"external_ids"`
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in patchUserJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Username.Null {
		return errkind.Field("username", "cannot be removed")
	}
	p := user.Patch{
		Username: in.Username.Ptr(), GivenName: in.GivenName.Ptr(), FamilyName: in.FamilyName.Ptr(),
		DisplayName: in.DisplayName.Ptr(), Phone: in.Phone.Ptr(), Locale: in.Locale.Ptr(), TimeZone: in.TimeZone.Ptr(),
		Org: in.OrganizationID.Ptr(), Attributes: in.Attributes.Value, ExternalIDs: in.ExternalIDs.Value,
		ClearAttributes: in.Attributes.Null, ClearExternalIDs: in.ExternalIDs.Null,
	}
	if in.Emails.Set {
		es := emailsIn(in.Emails.Value)
		p.Emails = &es
	}
	u, err := a.Users.Update(r.Context(), scope(r), user.ID(r.PathValue("id")), p, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, u.Version, userView(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := a.Users.Delete(r.Context(), scope(r), user.ID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) userExists(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, "username", "email"); err != nil {
		return err
	}
	q := r.URL.Query()
	login := q.Get("username")
	if login == "" {
		login = q.Get("email")
	} else if q.Get("email") != "" {
		return errkind.Field("email", "give username or email, not both")
	}
	ok, err := a.Users.Exists(r.Context(), scope(r), login)
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, map[string]bool{"exists": ok})
	return nil
}

func (a *API) changeUserLifecycle(w http.ResponseWriter, r *http.Request) error {
	op, ok := user.ParseOp(r.PathValue("operation"))
	if !ok {
		return errkind.Field("operation", "must be activate, suspend, unsuspend, deactivate, reactivate or unlock")
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	u, err := a.Users.Transition(r.Context(), scope(r), user.ID(r.PathValue("id")), op, version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, u.Version, userView(u))
}

func (a *API) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := a.Users.SetPassword(r.Context(), scope(r), user.ID(r.PathValue("id")), in.Password)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, u.Version, userView(u))
}

func (a *API) importUserPasswordHash(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Hash string `json:"hash"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := a.Users.ImportPasswordHash(r.Context(), scope(r), user.ID(r.PathValue("id")), in.Hash)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, u.Version, userView(u))
}

func (a *API) listUserGroups(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, pageParams...); err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := a.Groups.GroupsOf(r.Context(), scope(r), user.ID(r.PathValue("id")), pr)
	if err != nil {
		return err
	}
	views := make([]groupJSON, len(p.Items))
	for i := range p.Items {
		views[i] = groupView(&p.Items[i])
	}
	return writeList(w, r, views, p.Next)
}

type validatePasswordJSON struct {
	Password string `json:"password"`
	UserID   string `json:"user_id"`
}

type validationJSON struct {
	Valid      bool                 `json:"valid"`
	Violations []password.Violation `json:"violations"`
}

func (a *API) validatePassword(w http.ResponseWriter, r *http.Request) error {
	var in validatePasswordJSON
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	vs, err := a.Users.ValidatePassword(r.Context(), scope(r), in.Password, user.ID(in.UserID))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []password.Violation{}
	}
	web.JSON(w, http.StatusOK, validationJSON{Valid: len(vs) == 0, Violations: vs})
	return nil
}
