package api

import (
	"net/http"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/web"
)

type tokenJSON struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Role           apitoken.Role `json:"role"`
	OrganizationID *string       `json:"organization_id"`
	CreatedAt      *string       `json:"created_at"`
	ExpiresAt      *string       `json:"expires_at"`
	RevokedAt      *string       `json:"revoked_at"`
	LastUsedAt     *string       `json:"last_used_at"`
	// Secret is present only in the answer to the create call.
	Secret string `json:"secret,omitempty"`
}

func tokenView(t *apitoken.Token) tokenJSON {
	return tokenJSON{ID: string(t.ID), Name: t.Name, Role: t.Role, OrganizationID: orNil(string(t.Org)),
		CreatedAt: timeText(t.Created), ExpiresAt: timeText(t.Expires), RevokedAt: timeText(t.Revoked), LastUsedAt: timeText(t.LastUsed)}
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name           string        `json:"name"`
		Role           apitoken.Role `json:"role"`
		OrganizationID string        `json:"organization_id"`
		ExpiresAt      *time.Time    `json:"expires_at"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	nt := apitoken.NewToken{Name: in.Name, Role: in.Role, Org: tenant.OrgID(in.OrganizationID)}
	if in.ExpiresAt != nil {
		nt.Expires = in.ExpiresAt.UTC()
	}
	t, secret, err := a.Tokens.Create(r.Context(), scope(r), nt)
	if err != nil {
		return err
	}
	v := tokenView(t)
	v.Secret = secret
	web.JSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r); err != nil {
		return err
	}
	ts, err := a.Tokens.List(r.Context(), scope(r))
	if err != nil {
		return err
	}
	views := make([]tokenJSON, len(ts))
	for i := range ts {
		views[i] = tokenView(&ts[i])
	}
	return writeList(w, r, views, "")
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.Tokens.Revoke(r.Context(), scope(r), apitoken.ID(r.PathValue("id")))
	if err != nil {
		return err
	}
	web.JSON(w, http.StatusOK, tokenView(t))
	return nil
}
