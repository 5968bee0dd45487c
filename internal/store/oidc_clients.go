package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// oidcRow is the JSON of oidc_clients.config: the storage form, kept apart
// from the domain type so that renaming a Go field never changes stored
// data. The client id and the secret digests live in their own columns.
type oidcRow struct {
	Type                             string          `json:"client_type"`
	RedirectURIs                     []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs           []string        `json:"post_logout_redirect_uris"`
	GrantTypes                       []string        `json:"grant_types"`
	Scopes                           []string        `json:"scopes"`
	TokenEndpointAuthMethod          string          `json:"token_endpoint_auth_method"`
	RequirePKCE                      bool            `json:"require_pkce"`
	JWKS                             json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                          string          `json:"jwks_uri,omitempty"`
	AccessTokenFormat                string          `json:"access_token_format"`
	IDTokenSignedResponseAlg         string          `json:"id_token_signed_response_alg,omitempty"`
	AccessTokenLifetimeSeconds       int             `json:"access_token_lifetime_seconds"`
	RefreshTokenLifetimeSeconds      int             `json:"refresh_token_lifetime_seconds"`
	IDTokenLifetimeSeconds           int             `json:"id_token_lifetime_seconds"`
	RequireConsent                   bool            `json:"require_consent"`
	BackChannelLogoutURI             string          `json:"backchannel_logout_uri,omitempty"`
	BackChannelLogoutSessionRequired bool            `json:"backchannel_logout_session_required"`
	ProfileClaims                    []string        `json:"profile_claims"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func oidcRowOf(c *access.OIDCClient) oidcRow {
	r := oidcRow{Type: c.Type, RedirectURIs: orEmpty(c.RedirectURIs), PostLogoutRedirectURIs: orEmpty(c.PostLogoutRedirectURIs),
		GrantTypes: orEmpty(c.GrantTypes), Scopes: orEmpty(c.Scopes), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		RequirePKCE: c.RequirePKCE, JWKSURI: c.JWKSURI, AccessTokenFormat: c.AccessTokenFormat,
		IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg, AccessTokenLifetimeSeconds: c.AccessTokenLifetimeSeconds, RefreshTokenLifetimeSeconds: c.RefreshTokenLifetimeSeconds,
		IDTokenLifetimeSeconds: c.IDTokenLifetimeSeconds, RequireConsent: c.RequireConsent, BackChannelLogoutURI: c.BackChannelLogoutURI,
		BackChannelLogoutSessionRequired: c.BackChannelLogoutSessionRequired, ProfileClaims: orEmpty(c.ProfileClaims)}
	if c.JWKS != "" {
		r.JWKS = json.RawMessage(c.JWKS)
	}
	return r
}

func (r oidcRow) apply(c *access.OIDCClient) {
	c.Type, c.RedirectURIs, c.PostLogoutRedirectURIs = r.Type, orEmpty(r.RedirectURIs), orEmpty(r.PostLogoutRedirectURIs)
	c.GrantTypes, c.Scopes, c.TokenEndpointAuthMethod = orEmpty(r.GrantTypes), orEmpty(r.Scopes), r.TokenEndpointAuthMethod
	c.RequirePKCE, c.JWKS, c.JWKSURI = r.RequirePKCE, string(r.JWKS), r.JWKSURI
	c.AccessTokenFormat, c.AccessTokenLifetimeSeconds = r.AccessTokenFormat, r.AccessTokenLifetimeSeconds
	c.IDTokenSignedResponseAlg = r.IDTokenSignedResponseAlg
	if c.IDTokenSignedResponseAlg == "" {
		c.IDTokenSignedResponseAlg = "RS256" // clients stored before the setting existed
	}
	c.RefreshTokenLifetimeSeconds, c.IDTokenLifetimeSeconds = r.RefreshTokenLifetimeSeconds, r.IDTokenLifetimeSeconds
	c.RequireConsent, c.BackChannelLogoutURI = r.RequireConsent, r.BackChannelLogoutURI
	c.BackChannelLogoutSessionRequired, c.ProfileClaims = r.BackChannelLogoutSessionRequired, orEmpty(r.ProfileClaims)
}

const oidcCols = `tenant_id, app_id, client_id, config, COALESCE(secret_digest, ''), COALESCE(previous_secret_digest, ''),
	previous_secret_expires_at, version, created_at, updated_at`

func scanOIDC(row rowScanner) (*access.OIDCClient, error) {
	var c access.OIDCClient
	var r oidcRow
	if err := row.Scan(&c.Tenant, &c.App, &c.ClientID, jsonCol{&r}, &c.SecretDigest, &c.PreviousSecretDigest,
		timeCol{&c.PreviousSecretExpires}, &c.Version, timeCol{&c.Created}, timeCol{&c.Updated}); err != nil {
		return nil, notFound(err, access.ErrOIDCNotConfigured)
	}
	r.apply(&c)
	return &c, nil
}

// OIDCClient returns an application's OIDC client.
func (db *DB) OIDCClient(ctx context.Context, t tenant.ID, app access.AppID) (*access.OIDCClient, error) {
	return scanOIDC(db.r(ctx).QueryRowContext(ctx, `SELECT `+oidcCols+` FROM oidc_clients WHERE tenant_id = $1 AND app_id = $2`, t, app))
}

// OIDCClientByClientID returns the OIDC client with clientID in t.
func (db *DB) OIDCClientByClientID(ctx context.Context, t tenant.ID, clientID string) (*access.OIDCClient, error) {
	return scanOIDC(db.r(ctx).QueryRowContext(ctx, `SELECT `+oidcCols+` FROM oidc_clients WHERE client_id = $1 AND tenant_id = $2`,
		clientID, t))
}

// CreateOIDCClient inserts an application's OIDC client.
func (db *DB) CreateOIDCClient(ctx context.Context, c *access.OIDCClient) error {
	config, err := jsonText(oidcRowOf(c))
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO oidc_clients (tenant_id, app_id, client_id, config, secret_digest,
		previous_secret_digest, previous_secret_expires_at, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.Tenant, c.App, c.ClientID, config, nullString(c.SecretDigest), nullString(c.PreviousSecretDigest),
		ts(c.PreviousSecretExpires), c.Version, ts(c.Created), ts(c.Updated))
	switch err = translate(err); {
	case isForeignKey(err):
		return access.ErrAppNotFound
	case err != nil && violates(err, "oidc_clients", "client_id"):
		return err // a random id met another: no client of the caller's is at fault
	case errors.Is(err, errUnique):
		return access.ErrOIDCClientExists
	}
	return err
}

// UpdateOIDCClient rewrites an OIDC client's settings, digests, version and
// update time; its client id and creation time stay.
func (db *DB) UpdateOIDCClient(ctx context.Context, c *access.OIDCClient) error {
	config, err := jsonText(oidcRowOf(c))
	if err != nil {
		return err
	}
	res, err := db.w(ctx).ExecContext(ctx, `UPDATE oidc_clients SET config = $3, secret_digest = $4, previous_secret_digest = $5,
		previous_secret_expires_at = $6, version = $7, updated_at = $8 WHERE tenant_id = $1 AND app_id = $2`,
		c.Tenant, c.App, config, nullString(c.SecretDigest), nullString(c.PreviousSecretDigest), ts(c.PreviousSecretExpires),
		c.Version, ts(c.Updated))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return access.ErrOIDCNotConfigured
	}
	return nil
}

// DeleteOIDCClient removes an application's OIDC client.
func (db *DB) DeleteOIDCClient(ctx context.Context, t tenant.ID, app access.AppID) error {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM oidc_clients WHERE tenant_id = $1 AND app_id = $2`, t, app)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return access.ErrOIDCNotConfigured
	}
	return nil
}
