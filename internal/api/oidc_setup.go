package api

import (
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/web"
)

// The setup view of an OIDC application: what its developers configure
// their client library with. The URLs come from access.NewOIDCEndpoints,
// the same code the provider and the console take them from. The secret is
// not here: it is shown once, when created or rotated.

type oidcSetupJSON struct {
	ApplicationID            string   `json:"application_id"`
	ClientID                 string   `json:"client_id"`
	ClientType               string   `json:"client_type"`
	TokenEndpointAuthMethod  string   `json:"token_endpoint_auth_method"`
	RedirectURIs             []string `json:"redirect_uris"`
	GrantTypes               []string `json:"grant_types"`
	Scopes                   []string `json:"scopes"`
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	Issuer                   string   `json:"issuer"`
	DiscoveryURL             string   `json:"discovery_url"`
	AuthorizationEndpoint    string   `json:"authorization_endpoint"`
	TokenEndpoint            string   `json:"token_endpoint"`
	UserinfoEndpoint         string   `json:"userinfo_endpoint"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	EndSessionEndpoint       string   `json:"end_session_endpoint"`
	JWKSURI                  string   `json:"jwks_uri"`
}

func (a *API) showApplicationOIDCSetup(w http.ResponseWriter, r *http.Request) error {
	sc := scope(r)
	c, err := a.Access.OIDCClient(r.Context(), sc, access.AppID(r.PathValue("id")))
	if err != nil {
		return err
	}
	t, err := a.Tenants.Tenant(r.Context(), sc.Tenant)
	if err != nil {
		return err
	}
	e := access.NewOIDCEndpoints(access.OIDCIssuer(a.PublicURL, t.Slug))
	web.JSON(w, http.StatusOK, oidcSetupJSON{ApplicationID: string(c.App), ClientID: c.ClientID, ClientType: c.Type,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, RedirectURIs: nonNil(c.RedirectURIs), GrantTypes: nonNil(c.GrantTypes),
		Scopes: nonNil(c.Scopes), IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg, Issuer: e.Issuer, DiscoveryURL: e.Discovery,
		AuthorizationEndpoint: e.Authorization, TokenEndpoint: e.Token, UserinfoEndpoint: e.UserInfo,
		IntrospectionEndpoint: e.Introspection, RevocationEndpoint: e.Revocation, EndSessionEndpoint: e.EndSession, JWKSURI: e.JWKS})
	return nil
}
