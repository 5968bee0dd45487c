package oidcop

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tessera-iam/tessera/internal/access"
)

// client is an application's OIDC client as the provider sees it.
type client struct {
	app  *access.Application
	cfg  *access.OIDCClient
	base string // the tenant's page prefix, /t/{slug}
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.cfg.ClientID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }

// ApplicationType: a public client is a native or browser app; its
// loopback redirect URIs may use any port (RFC 8252 §7.3).
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Type == access.ClientPublic {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethod(c.cfg.TokenEndpointAuthMethod) }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) LoginURL(id string) string { return c.base + "/oauth2/login?id=" + id }
func (c *client) IDTokenLifetime() time.Duration {
	return time.Duration(c.cfg.IDTokenLifetimeSeconds) * time.Second
}
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(scope string) bool     { return c.cfg.HasScope(scope) }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

// AccessTokenType is always "bearer" to the library: storage mints the
// access token itself, a JWT (RFC 9068) or an opaque one per client, and
// tokenCodec hands it over as is.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

func (c *client) GrantTypes() []oidc.GrantType {
	var out []oidc.GrantType
	for _, g := range c.cfg.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// allowedScopes keeps the scopes of asked the client may have: those it is
// configured for, offline_access only with the refresh grant.
func (c *client) allowedScopes(asked []string) []string {
	var out []string
	for _, s := range asked {
		if !c.cfg.HasScope(s) || slices.Contains(out, s) {
			continue
		}
		if s == access.ScopeOfflineAccess && !c.cfg.HasGrant(access.GrantRefreshToken) {
			continue
		}
		out = append(out, s)
	}
	return out
}
