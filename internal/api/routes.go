package api

import (
	"net/http"
	"strings"

	"github.com/tessera-iam/tessera/internal/web"
)

// Mux is where Routes registers its patterns; *http.ServeMux satisfies it.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Routes registers every route of the admin API on mux.
func (a *API) Routes(mux Mux) {
	e := web.Errors{Log: a.Log}
	// h wraps a handler: authenticated, role-checked, errors mapped once.
	h := func(level need, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
		return web.Chain(e.Handle(a.allow(level, fn)), web.APIHeaders(a.MaxBody), a.authenticate)
	}
	mux.Handle("GET /api/v1/openapi.json", web.Chain(e.Handle(serveOpenAPI), web.APIHeaders(a.MaxBody)))

	mux.Handle("GET /api/v1/tenant", h(read, a.showTenant))
	mux.Handle("PATCH /api/v1/tenant", h(administer, a.updateTenant))
	mux.Handle("PUT /api/v1/tenant/domain", h(administer, a.setTenantDomain))
	mux.Handle("GET /api/v1/tenant/password-policy", h(read, a.showPasswordPolicy))
	mux.Handle("PUT /api/v1/tenant/password-policy", h(administer, a.replacePasswordPolicy))
	mux.Handle("POST /api/v1/tenant/password-policy/validate", h(read, a.validatePassword))
	mux.Handle("GET /api/v1/tenant/profile-schema", h(read, a.showProfileSchema))
	mux.Handle("PUT /api/v1/tenant/profile-schema", h(administer, a.replaceProfileSchema))
	mux.Handle("GET /api/v1/sign-in-policy", h(read, a.showSignInPolicy))
	mux.Handle("PUT /api/v1/sign-in-policy", h(administer, a.replaceSignInPolicy))

	mux.Handle("GET /api/v1/organizations", h(read, a.listOrganizations))
	mux.Handle("POST /api/v1/organizations", h(administer, a.idempotent(a.createOrganization)))
	mux.Handle("GET /api/v1/organizations/{id}", h(read, a.showOrganization))
	mux.Handle("PATCH /api/v1/organizations/{id}", h(administer, a.updateOrganization))
	mux.Handle("DELETE /api/v1/organizations/{id}", h(administer, a.deleteOrganization))
	mux.Handle("POST /api/v1/organizations/{id}/domains", h(administer, a.addOrganizationDomain))
	mux.Handle("DELETE /api/v1/organizations/{id}/domains/{domain}", h(administer, a.removeOrganizationDomain))
	mux.Handle("POST /api/v1/organizations/{id}/domains/{domain}/verify", h(administer, a.verifyOrganizationDomain))
	mux.Handle("GET /api/v1/organizations/{id}/sign-in-policy", h(read, a.showOrganizationSignInPolicy))
	mux.Handle("PUT /api/v1/organizations/{id}/sign-in-policy", h(administer, a.replaceOrganizationSignInPolicy))

	mux.Handle("GET /api/v1/users", h(read, a.listUsers))
	mux.Handle("POST /api/v1/users", h(manageUser, a.idempotent(a.createUser)))
	mux.Handle("GET /api/v1/users/exists", h(read, a.userExists))
	mux.Handle("GET /api/v1/users/{id}", h(read, a.showUser))
	mux.Handle("PATCH /api/v1/users/{id}", h(manageUser, a.updateUser))
	mux.Handle("DELETE /api/v1/users/{id}", h(manageUser, a.deleteUser))
	mux.Handle("POST /api/v1/users/{id}/lifecycle/{operation}", h(manageUser, a.changeUserLifecycle))
	mux.Handle("PUT /api/v1/users/{id}/password", h(manageUser, a.setUserPassword))
	mux.Handle("PUT /api/v1/users/{id}/password-hash", h(manageUser, a.importUserPasswordHash))
	mux.Handle("GET /api/v1/users/{id}/groups", h(read, a.listUserGroups))
	mux.Handle("GET /api/v1/users/{id}/sessions", h(read, a.listUserSessions))
	mux.Handle("DELETE /api/v1/users/{id}/sessions", h(manageUser, a.revokeUserSessions))
	mux.Handle("DELETE /api/v1/users/{id}/sessions/{session_id}", h(manageUser, a.revokeUserSession))
	mux.Handle("GET /api/v1/users/{id}/consents", h(read, a.listUserConsents))
	mux.Handle("DELETE /api/v1/users/{id}/consents/{application_id}", h(manageUser, a.revokeUserConsent))
	mux.Handle("GET /api/v1/users/{id}/factors", h(read, a.listUserFactors))
	mux.Handle("DELETE /api/v1/users/{id}/factors", h(manageUser, a.resetUserFactors))
	mux.Handle("DELETE /api/v1/users/{id}/factors/{factor_id}", h(manageUser, a.deleteUserFactor))

	mux.Handle("GET /api/v1/groups", h(read, a.listGroups))
	mux.Handle("POST /api/v1/groups", h(manageUser, a.idempotent(a.createGroup)))
	mux.Handle("GET /api/v1/groups/{id}", h(read, a.showGroup))
	mux.Handle("PATCH /api/v1/groups/{id}", h(manageUser, a.updateGroup))
	mux.Handle("DELETE /api/v1/groups/{id}", h(manageUser, a.deleteGroup))
	mux.Handle("GET /api/v1/groups/{id}/members", h(read, a.listGroupMembers))
	mux.Handle("PUT /api/v1/groups/{id}/members/{user_id}", h(manageUser, a.addGroupMember))
	mux.Handle("DELETE /api/v1/groups/{id}/members/{user_id}", h(manageUser, a.removeGroupMember))

	mux.Handle("GET /api/v1/applications", h(read, a.listApplications))
	mux.Handle("POST /api/v1/applications", h(administer, a.idempotent(a.createApplication)))
	mux.Handle("GET /api/v1/applications/{id}", h(read, a.showApplication))
	mux.Handle("PATCH /api/v1/applications/{id}", h(administer, a.updateApplication))
	mux.Handle("DELETE /api/v1/applications/{id}", h(administer, a.deleteApplication))
	mux.Handle("GET /api/v1/applications/{id}/seats", h(read, a.showApplicationSeats))
	mux.Handle("GET /api/v1/applications/{id}/assignments", h(read, a.listAssignments))
	mux.Handle("POST /api/v1/applications/{id}/assignments", h(manageUser, a.createAssignment))
	mux.Handle("PATCH /api/v1/applications/{id}/assignments/{assignment_id}", h(manageUser, a.updateAssignment))
	mux.Handle("DELETE /api/v1/applications/{id}/assignments/{assignment_id}", h(manageUser, a.deleteAssignment))
	mux.Handle("GET /api/v1/applications/{id}/sign-in-policy", h(read, a.showApplicationSignInPolicy))
	mux.Handle("PUT /api/v1/applications/{id}/sign-in-policy", h(administer, a.replaceApplicationSignInPolicy))
	mux.Handle("GET /api/v1/applications/{id}/saml", h(read, a.showApplicationSAML))
	mux.Handle("PUT /api/v1/applications/{id}/saml", h(administer, a.replaceApplicationSAML))
	mux.Handle("DELETE /api/v1/applications/{id}/saml", h(administer, a.deleteApplicationSAML))
	mux.Handle("GET /api/v1/applications/{id}/saml/setup", h(read, a.showApplicationSAMLSetup))
	mux.Handle("POST /api/v1/applications/{id}/saml/metadata", h(administer, a.importApplicationSAMLMetadata))
	mux.Handle("GET /api/v1/applications/{id}/oidc", h(read, a.showApplicationOIDC))
	mux.Handle("POST /api/v1/applications/{id}/oidc", h(administer, a.createApplicationOIDC))
	mux.Handle("PUT /api/v1/applications/{id}/oidc", h(administer, a.replaceApplicationOIDC))
	mux.Handle("DELETE /api/v1/applications/{id}/oidc", h(administer, a.deleteApplicationOIDC))
	mux.Handle("POST /api/v1/applications/{id}/oidc/secret", h(administer, a.rotateApplicationOIDCSecret))
	mux.Handle("GET /api/v1/applications/{id}/oidc/setup", h(read, a.showApplicationOIDCSetup))

	mux.Handle("GET /api/v1/business-roles", h(read, a.listBusinessRoles))
	mux.Handle("POST /api/v1/business-roles", h(administer, a.idempotent(a.createBusinessRole)))
	mux.Handle("GET /api/v1/business-roles/{id}", h(read, a.showBusinessRole))
	mux.Handle("PATCH /api/v1/business-roles/{id}", h(administer, a.updateBusinessRole))
	mux.Handle("DELETE /api/v1/business-roles/{id}", h(administer, a.deleteBusinessRole))
	mux.Handle("GET /api/v1/business-roles/{id}/holders", h(read, a.listBusinessRoleHolders))
	mux.Handle("PUT /api/v1/business-roles/{id}/holders/{holder_type}/{holder_id}", h(manageUser, a.addBusinessRoleHolder))
	mux.Handle("DELETE /api/v1/business-roles/{id}/holders/{holder_type}/{holder_id}", h(manageUser, a.removeBusinessRoleHolder))

	mux.Handle("GET /api/v1/reports/app-accounts", h(read, a.appAccounts))
	mux.Handle("GET /api/v1/reports/user-permissions", h(read, a.userPermissions))
	mux.Handle("GET /api/v1/reports/access-changes", h(read, a.accessChanges))
	mux.Handle("GET /api/v1/reports/sign-ins", h(read, a.listSignIns))

	mux.Handle("GET /api/v1/audit/events", h(read, a.listAuditEvents))
	mux.Handle("GET /api/v1/audit/export", h(read, a.exportAuditEvents))
	mux.Handle("GET /api/v1/audit/feed", h(read, a.showAuditFeed))
	mux.Handle("POST /api/v1/audit/verify", h(administer, a.verifyAuditLog))
	mux.Handle("GET /api/v1/audit/settings", h(read, a.showAuditSettings))
	mux.Handle("PUT /api/v1/audit/settings", h(administer, a.replaceAuditSettings))

	mux.Handle("GET /api/v1/signing-keys", h(read, a.listSigningKeys))
	mux.Handle("POST /api/v1/signing-keys/rotate", h(administer, a.rotateSigningKeys))

	mux.Handle("GET /api/v1/tokens", h(administer, a.listTokens))
	mux.Handle("POST /api/v1/tokens", h(administer, a.createToken))
	mux.Handle("DELETE /api/v1/tokens/{id}", h(administer, a.revokeToken))

	// Anything else under the API answers in problem+json, not the HTML 404.
	unmatched := noRoute(mux)
	mux.Handle("/api/", web.Chain(e.Handle(unmatched), web.APIHeaders(a.MaxBody)))
}

// noRoute answers a request no API route matched: 405 with Allow when the
// path exists for other methods, else 404. The catch-all pattern hides the
// ServeMux's own 405, so it asks the mux which methods would match.
func noRoute(mux Mux) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		sm, ok := mux.(*http.ServeMux)
		if !ok {
			return errNoRoute
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := sm.Handler(probe); pattern != "" && pattern != "/api/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			return errNoRoute
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &web.StatusError{Status: http.StatusMethodNotAllowed, Type: "method-not-allowed",
			Detail: "this route does not answer " + r.Method + "; it answers " + strings.Join(allow, ", ")}
	}
}
