package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/user"
)

// A user's consents to third-party OIDC applications: what each may have,
// and taking it back (which ends what the application was given).

type consentJSON struct {
	ApplicationID string   `json:"application_id"`
	Scopes        []string `json:"scopes"`
	CreatedAt     *string  `json:"created_at"`
	UpdatedAt     *string  `json:"updated_at"`
}

func (a *API) listUserConsents(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r); err != nil {
		return err
	}
	sc, uid := scope(r), user.ID(r.PathValue("id"))
	if _, err := a.Users.User(r.Context(), sc, uid); err != nil {
		return err
	}
	cs, err := a.Grants.Consents(r.Context(), sc.Tenant, uid)
	if err != nil {
		return err
	}
	views := make([]consentJSON, len(cs))
	for i, c := range cs {
		views[i] = consentJSON{ApplicationID: string(c.App), Scopes: nonNil(c.Scopes), CreatedAt: timeText(c.Created), UpdatedAt: timeText(c.Updated)}
	}
	return writeList(w, r, views, "")
}

func (a *API) revokeUserConsent(w http.ResponseWriter, r *http.Request) error {
	sc, uid := scope(r), user.ID(r.PathValue("id"))
	if _, err := a.Users.User(r.Context(), sc, uid); err != nil {
		return err
	}
	found, err := a.Grants.RevokeConsent(r.Context(), sc.Tenant, uid, access.AppID(r.PathValue("application_id")))
	if err != nil {
		return err
	}
	if !found {
		return grant.ErrConsentNotFound
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
