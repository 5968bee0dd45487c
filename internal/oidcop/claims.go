package oidcop

import (
	"context"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/language"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// supportedClaims are the claims discovery announces.
var supportedClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid",
	"name", "given_name", "family_name", "preferred_username", "locale", "zoneinfo", "updated_at",
	"email", "email_verified", "groups", "org_id", "org_name", "roles"}

// userinfo fills ui with what scopes release about u to client c (OIDC
// Core §5.4), plus the user's roles in c's application, which the
// business-role translation decides.
func (h *Handler) userinfo(ctx context.Context, t *tenant.Tenant, c *client, u user.ID, scopes []string, ui *oidc.UserInfo) error {
	usr, err := h.user(ctx, infoFrom(ctx), u)
	if err != nil {
		return err
	}
	ui.Subject = string(u)
	if slices.Contains(scopes, access.ScopeProfile) {
		ui.Name, ui.GivenName, ui.FamilyName = usr.DisplayName, usr.GivenName, usr.FamilyName
		if ui.Name == "" {
			ui.Name = joinName(usr.GivenName, usr.FamilyName)
		}
		ui.PreferredUsername, ui.Zoneinfo = usr.Username, usr.TimeZone
		if tag, err := language.Parse(usr.Locale); err == nil && usr.Locale != "" {
			ui.Locale = oidc.NewLocale(tag)
		}
		ui.UpdatedAt = oidc.FromTime(usr.Updated)
		for _, name := range c.cfg.ProfileClaims {
			if v, ok := usr.Attributes[name]; ok && v != nil {
				ui.AppendClaims(name, v)
			}
		}
	}
	if slices.Contains(scopes, access.ScopeEmail) {
		e := usr.PrimaryEmail()
		ui.Email, ui.EmailVerified = e.Value, oidc.Bool(e.Verified)
	}
	extra, err := h.claims(ctx, t, c, usr, scopes)
	if err != nil {
		return err
	}
	for k, v := range extra {
		ui.AppendClaims(k, v)
	}
	return nil
}

// claims are Tessera's own claims about usr for client c: groups (scope
// groups), organization (scope organization) and roles in the
// application (always, when there are any).
func (h *Handler) claims(ctx context.Context, t *tenant.Tenant, c *client, usr *user.User, scopes []string) (map[string]any, error) {
	info := infoFrom(ctx)
	key := string(usr.ID) + " " + c.cfg.ClientID + " " + strings.Join(scopes, " ")
	if out, ok := info.claims[key]; ok {
		return out, nil
	}
	sc := tenant.Scope{Tenant: t.ID}
	out := map[string]any{}
	if slices.Contains(scopes, access.ScopeGroups) {
		names, err := h.Groups.NamesOf(ctx, sc, usr.ID)
		if err != nil {
			return nil, err
		}
		out["groups"] = names
	}
	if slices.Contains(scopes, access.ScopeOrganization) && usr.Org != "" {
		o, err := h.Tenants.Organization(ctx, sc, usr.Org)
		if err != nil {
			return nil, err
		}
		out["org_id"], out["org_name"] = string(o.ID), o.Name
	}
	ivs, err := h.Access.PermissionsAt(ctx, sc, usr.ID, h.Now())
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, iv := range ivs {
		if iv.App == c.app.ID && iv.Role != "" {
			roles = append(roles, iv.Role)
		}
	}
	slices.Sort(roles)
	if roles = slices.Compact(roles); len(roles) > 0 {
		out["roles"] = roles
	}
	if info.claims == nil {
		info.claims = map[string]map[string]any{}
	}
	info.claims[key] = out
	return out, nil
}

// user reads user u once per request.
func (h *Handler) user(ctx context.Context, info *reqInfo, u user.ID) (*user.User, error) {
	if usr, ok := info.users[u]; ok {
		return usr, nil
	}
	usr, err := h.Users.User(ctx, tenant.Scope{Tenant: info.tenant.ID}, u)
	if err != nil {
		return nil, err
	}
	if info.users == nil {
		info.users = map[user.ID]*user.User{}
	}
	info.users[u] = usr
	return usr, nil
}

func joinName(given, family string) string {
	switch {
	case given == "":
		return family
	case family == "":
		return given
	}
	return given + " " + family
}
