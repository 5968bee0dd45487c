package api

import (
	"encoding/json"
	"net/http"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/web"
)

// The OpenID Connect client of an application of kind oidc. POST creates it
// (a confidential client's secret is in that answer and never again), PUT
// replaces its settings whole (members left out take their defaults; the
// client id, type and secret stay), POST .../secret rotates the secret.
// Neither answer with a secret goes through a.idempotent: a saved answer
// would keep the secret in the database.

type oidcClientJSON struct {
	ApplicationID                    string          `json:"application_id"`
	ClientID                         string          `json:"client_id"`
	ClientType                       string          `json:"client_type"`
	RedirectURIs                     []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs           []string        `json:"post_logout_redirect_uris"`
	GrantTypes                       []string        `json:"grant_types"`
	Scopes                           []string        `json:"scopes"`
	TokenEndpointAuthMethod          string          `json:"token_endpoint_auth_method"`
	RequirePKCE                      bool            `json:"require_pkce"`
	JWKS                             json.RawMessage `json:"jwks"` // null when none
	JWKSURI                          string          `json:"jwks_uri"`
	AccessTokenFormat                string          `json:"access_token_format"`
	IDTokenSignedResponseAlg         string          `json:"id_token_signed_response_alg"`
	AccessTokenLifetimeSeconds       int             `json:"access_token_lifetime_seconds"`
	RefreshTokenLifetimeSeconds      int             `json:"refresh_token_lifetime_seconds"`
	IDTokenLifetimeSeconds           int             `json:"id_token_lifetime_seconds"`
	RequireConsent                   bool            `json:"require_consent"`
	BackChannelLogoutURI             string          `json:"backchannel_logout_uri"`
	BackChannelLogoutSessionRequired bool            `json:"backchannel_logout_session_required"`
	ProfileClaims                    []string        `json:"profile_claims"`
	PreviousSecretExpiresAt          *string         `json:"previous_secret_expires_at"`
	Version                          int64           `json:"version"`
	CreatedAt                        *string         `json:"created_at"`
	UpdatedAt                        *string         `json:"updated_at"`
}

// oidcClientSecretJSON is the answer that shows a secret, once.
type oidcClientSecretJSON struct {
	oidcClientJSON
	ClientSecret *string `json:"client_secret"` // null for a public client
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func oidcClientView(c *access.OIDCClient) oidcClientJSON {
	v := oidcClientJSON{ApplicationID: string(c.App), ClientID: c.ClientID, ClientType: c.Type,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		RequirePKCE: c.RequirePKCE, JWKSURI: c.JWKSURI, AccessTokenFormat: c.AccessTokenFormat,
		IDTokenSignedResponseAlg:   c.IDTokenSignedResponseAlg,
		AccessTokenLifetimeSeconds: c.AccessTokenLifetimeSeconds, RefreshTokenLifetimeSeconds: c.RefreshTokenLifetimeSeconds,
		IDTokenLifetimeSeconds: c.IDTokenLifetimeSeconds, RequireConsent: c.RequireConsent,
		BackChannelLogoutURI: c.BackChannelLogoutURI, BackChannelLogoutSessionRequired: c.BackChannelLogoutSessionRequired,
		ProfileClaims: nonNil(c.ProfileClaims), PreviousSecretExpiresAt: timeText(c.PreviousSecretExpires),
		Version: c.Version, CreatedAt: timeText(c.Created), UpdatedAt: timeText(c.Updated)}
	if c.JWKS != "" {
		v.JWKS = json.RawMessage(c.JWKS)
	}
	return v
}

func oidcClientSecretView(c *access.OIDCClient, secret string) oidcClientSecretJSON {
	return oidcClientSecretJSON{oidcClientJSON: oidcClientView(c), ClientSecret: orNil(secret)}
}

// oidcClientIn is a POST or PUT body: pointers tell a member left out (its
// default) from one sent.
type oidcClientIn struct {
	ClientType                       string          `json:"client_type"` // default confidential; on PUT, the current type
	RedirectURIs                     []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs           []string        `json:"post_logout_redirect_uris"`
	GrantTypes                       *[]string       `json:"grant_types"`
	Scopes                           *[]string       `json:"scopes"`
	TokenEndpointAuthMethod          string          `json:"token_endpoint_auth_method"` // default by type
	RequirePKCE                      *bool           `json:"require_pkce"`
	JWKS                             json.RawMessage `json:"jwks"`
	JWKSURI                          string          `json:"jwks_uri"`
	AccessTokenFormat                *string         `json:"access_token_format"`
	IDTokenSignedResponseAlg         *string         `json:"id_token_signed_response_alg"`
	AccessTokenLifetimeSeconds       *int            `json:"access_token_lifetime_seconds"`
	RefreshTokenLifetimeSeconds      *int            `json:"refresh_token_lifetime_seconds"`
	IDTokenLifetimeSeconds           *int            `json:"id_token_lifetime_seconds"`
	RequireConsent                   bool            `json:"require_consent"`
	BackChannelLogoutURI             string          `json:"backchannel_logout_uri"`
	BackChannelLogoutSessionRequired bool            `json:"backchannel_logout_session_required"`
	ProfileClaims                    []string        `json:"profile_claims"`
}

// config applies the defaults to what the body left out.
func (in *oidcClientIn) config() access.OIDCClient {
	c := access.DefaultOIDCClient()
	c.Type, c.TokenEndpointAuthMethod = in.ClientType, in.TokenEndpointAuthMethod
	c.RedirectURIs, c.PostLogoutRedirectURIs, c.ProfileClaims = in.RedirectURIs, in.PostLogoutRedirectURIs, in.ProfileClaims
	if in.GrantTypes != nil {
		c.GrantTypes = *in.GrantTypes
	}
	if in.Scopes != nil {
		c.Scopes = *in.Scopes
	}
	if in.RequirePKCE != nil {
		c.RequirePKCE = *in.RequirePKCE
	}
	if len(in.JWKS) > 0 && string(in.JWKS) != "null" {
		c.JWKS = string(in.JWKS)
	}
	if in.AccessTokenFormat != nil {
		c.AccessTokenFormat = *in.AccessTokenFormat
	}
	if in.IDTokenSignedResponseAlg != nil {
		c.IDTokenSignedResponseAlg = *in.IDTokenSignedResponseAlg
	}
	for _, x := range []struct {
		dst *int
		src *int
	}{{&c.AccessTokenLifetimeSeconds, in.AccessTokenLifetimeSeconds}, {&c.RefreshTokenLifetimeSeconds, in.RefreshTokenLifetimeSeconds},
		{&c.IDTokenLifetimeSeconds, in.IDTokenLifetimeSeconds}} {
		if x.src != nil {
			*x.dst = *x.src
		}
	}
	c.JWKSURI, c.RequireConsent = in.JWKSURI, in.RequireConsent
	c.BackChannelLogoutURI, c.BackChannelLogoutSessionRequired = in.BackChannelLogoutURI, in.BackChannelLogoutSessionRequired
	return c
}

func (a *API) showApplicationOIDC(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Access.OIDCClient(r.Context(), scope(r), access.AppID(r.PathValue("id")))
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, c.Version, oidcClientView(c))
}

func (a *API) createApplicationOIDC(w http.ResponseWriter, r *http.Request) error {
	var in oidcClientIn
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, secret, err := a.Access.CreateOIDCClient(r.Context(), scope(r), access.AppID(r.PathValue("id")), in.config())
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusCreated, c.Version, oidcClientSecretView(c, secret))
}

func (a *API) replaceApplicationOIDC(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in oidcClientIn
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, err := a.Access.UpdateOIDCClient(r.Context(), scope(r), access.AppID(r.PathValue("id")), in.config(), version)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, c.Version, oidcClientView(c))
}

func (a *API) rotateApplicationOIDCSecret(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PreviousSecretValidSeconds int `json:"previous_secret_valid_seconds"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	c, secret, err := a.Access.RotateOIDCClientSecret(r.Context(), scope(r), access.AppID(r.PathValue("id")), in.PreviousSecretValidSeconds)
	if err != nil {
		return err
	}
	return writeVersioned(w, http.StatusOK, c.Version, oidcClientSecretView(c, secret))
}

func (a *API) deleteApplicationOIDC(w http.ResponseWriter, r *http.Request) error {
	if err := a.Access.DeleteOIDCClient(r.Context(), scope(r), access.AppID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
