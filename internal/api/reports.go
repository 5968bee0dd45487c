package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/user"
)

type grantJSON struct {
	ApplicationID string  `json:"application_id"`
	UserID        string  `json:"user_id"`
	Role          *string `json:"role"`   // null: access without an application role
	Via           string  `json:"via"`    // direct, group or business_role
	ViaID         *string `json:"via_id"` // the group or business role
	From          *string `json:"from"`   // when this grant began
	Until         *string `json:"until"`  // when it ended; null: still held
}

func grantView(iv access.Interval) grantJSON {
	return grantJSON{ApplicationID: string(iv.App), UserID: string(iv.User), Role: orNil(iv.Role), Via: iv.Via.Type,
		ViaID: orNil(iv.Via.ID), From: timeText(iv.From), Until: timeText(iv.To)}
}

func grantRow(iv access.Interval) []string {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	g := grantView(iv)
	return []string{g.ApplicationID, g.UserID, deref(g.Role), g.Via, deref(g.ViaID), deref(g.From), deref(g.Until)}
}

var grantHeader = []string{"application_id", "user_id", "role", "via", "via_id", "from", "until"}

type accountJSON struct {
	UserID string      `json:"user_id"`
	Grants []grantJSON `json:"grants"`
}

// appAccounts answers "who has an account in app X" now or at=T.
func (a *API) appAccounts(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, "application_id", "at", "limit", "cursor", "order", "format"); err != nil {
		return err
	}
	csv, err := wantsCSV(r)
	if err != nil {
		return err
	}
	app := r.URL.Query().Get("application_id")
	if app == "" {
		return errkind.Field("application_id", "is required")
	}
	at, err := timeParam(r, "at")
	if err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := a.Access.AccountsAt(r.Context(), scope(r), access.AccountQuery{Request: pr, App: access.AppID(app), At: at})
	if err != nil {
		return err
	}
	if csv {
		var rows [][]string
		for _, acc := range p.Items {
			for _, iv := range acc.Grants {
				rows = append(rows, grantRow(iv))
			}
		}
		return writeCSV(w, r, "accounts", grantHeader, rows, p.Next)
	}
	views := make([]accountJSON, len(p.Items))
	for i, acc := range p.Items {
		views[i] = accountJSON{UserID: string(acc.User), Grants: []grantJSON{}}
		for _, iv := range acc.Grants {
			views[i].Grants = append(views[i].Grants, grantView(iv))
		}
	}
	return writeList(w, r, views, p.Next)
}

// userPermissions answers "what may user U do", now or at=T, with the path.
func (a *API) userPermissions(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, "user_id", "at", "format"); err != nil {
		return err
	}
	csv, err := wantsCSV(r)
	if err != nil {
		return err
	}
	uid := r.URL.Query().Get("user_id")
	if uid == "" {
		return errkind.Field("user_id", "is required")
	}
	at, err := timeParam(r, "at")
	if err != nil {
		return err
	}
	ivs, err := a.Access.PermissionsAt(r.Context(), scope(r), user.ID(uid), at)
	if err != nil {
		return err
	}
	if csv {
		rows := make([][]string, len(ivs))
		for i, iv := range ivs {
			rows[i] = grantRow(iv)
		}
		return writeCSV(w, r, "permissions", grantHeader, rows, "")
	}
	views := make([]grantJSON, len(ivs))
	for i, iv := range ivs {
		views[i] = grantView(iv)
	}
	return writeList(w, r, views, "")
}

type changeJSON struct {
	At            *string `json:"at"`
	Change        string  `json:"change"` // granted or revoked
	ApplicationID string  `json:"application_id"`
	UserID        string  `json:"user_id"`
	Role          *string `json:"role"`
	Via           string  `json:"via"`
	ViaID         *string `json:"via_id"`
}

// accessChanges answers "how did access to X change between T1 and T2".
func (a *API) accessChanges(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, "application_id", "since", "until", "limit", "cursor", "order", "format"); err != nil {
		return err
	}
	csv, err := wantsCSV(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Get("application_id") == "" {
		return errkind.Field("application_id", "is required")
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	until, err := timeParam(r, "until")
	if err != nil {
		return err
	}
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	p, err := a.Access.AccessChanges(r.Context(), scope(r), access.ChangeQuery{Request: pr, App: access.AppID(q.Get("application_id")),
		Since: since, Until: until})
	if err != nil {
		return err
	}
	views := make([]changeJSON, len(p.Items))
	rows := make([][]string, len(p.Items))
	for i, c := range p.Items {
		kind := "revoked"
		if c.Granted {
			kind = "granted"
		}
		views[i] = changeJSON{At: timeText(c.At), Change: kind, ApplicationID: string(c.App), UserID: string(c.User),
			Role: orNil(c.Role), Via: c.Via.Type, ViaID: orNil(c.Via.ID)}
		rows[i] = append([]string{*views[i].At, kind}, grantRow(access.Interval{Grant: c.Grant})[:5]...)
	}
	if csv {
		return writeCSV(w, r, "access-changes", append([]string{"at", "change"}, grantHeader[:5]...), rows, p.Next)
	}
	return writeList(w, r, views, p.Next)
}
