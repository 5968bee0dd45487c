package store

import (
	"context"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// samlRow is the JSON of saml_apps.config: the storage form, kept apart from
// the domain type so that renaming a Go field never changes stored data.
// The entity id lives in its own column (unique per tenant).
type samlRow struct {
	ACS                      []samlACSRow       `json:"acs"`
	SLO                      *samlEndpointRow   `json:"slo,omitempty"`
	NameIDFormat             string             `json:"name_id_format"`
	NameIDSource             string             `json:"name_id_source"`
	Attributes               []samlAttributeRow `json:"attributes"`
	SignResponse             bool               `json:"sign_response"`
	SignAssertion            bool               `json:"sign_assertion"`
	SignatureAlgorithm       string             `json:"signature_algorithm"`
	EncryptAssertion         bool               `json:"encrypt_assertion"`
	SPCertificate            string             `json:"sp_certificate,omitempty"`
	WantSignedRequests       bool               `json:"want_signed_requests"`
	ClockSkewSeconds         int                `json:"clock_skew_seconds"`
	AssertionLifetimeSeconds int                `json:"assertion_lifetime_seconds"`
	RelayStateDefault        string             `json:"relay_state_default,omitempty"`
	AllowInsecureACS         bool               `json:"allow_insecure_acs"`
	AllowSHA1                bool               `json:"allow_sha1"`
}

type samlACSRow struct {
	Index   int    `json:"index"`
	URL     string `json:"url"`
	Binding string `json:"binding"`
	Default bool   `json:"default,omitempty"`
}

type samlEndpointRow struct {
	URL     string `json:"url"`
	Binding string `json:"binding"`
}

type samlAttributeRow struct {
	Name         string `json:"name"`
	FriendlyName string `json:"friendly_name,omitempty"`
	Source       string `json:"source"`
}

func samlRowOf(c *access.SAMLConfig) samlRow {
	r := samlRow{ACS: make([]samlACSRow, len(c.ACS)), NameIDFormat: c.NameIDFormat, NameIDSource: c.NameIDSource,
		Attributes: make([]samlAttributeRow, len(c.Attributes)), SignResponse: c.SignResponse, SignAssertion: c.SignAssertion,
		SignatureAlgorithm: c.SignatureAlgorithm, EncryptAssertion: c.EncryptAssertion, SPCertificate: c.SPCertificate,
		WantSignedRequests: c.WantSignedRequests, ClockSkewSeconds: c.ClockSkewSeconds,
		AssertionLifetimeSeconds: c.AssertionLifetimeSeconds, RelayStateDefault: c.RelayStateDefault,
		AllowInsecureACS: c.AllowInsecureACS, AllowSHA1: c.AllowSHA1}
	for i, a := range c.ACS {
		r.ACS[i] = samlACSRow(a)
	}
	if c.SLO != nil {
		r.SLO = &samlEndpointRow{URL: c.SLO.URL, Binding: c.SLO.Binding}
	}
	for i, a := range c.Attributes {
		r.Attributes[i] = samlAttributeRow(a)
	}
	return r
}

func (r samlRow) apply(c *access.SAMLConfig) {
	c.ACS = make([]access.ACS, len(r.ACS))
	for i, a := range r.ACS {
		c.ACS[i] = access.ACS(a)
	}
	if r.SLO != nil {
		c.SLO = &access.SAMLEndpoint{URL: r.SLO.URL, Binding: r.SLO.Binding}
	}
	c.Attributes = make([]access.SAMLAttribute, len(r.Attributes))
	for i, a := range r.Attributes {
		c.Attributes[i] = access.SAMLAttribute(a)
	}
	c.NameIDFormat, c.NameIDSource = r.NameIDFormat, r.NameIDSource
	c.SignResponse, c.SignAssertion, c.SignatureAlgorithm = r.SignResponse, r.SignAssertion, r.SignatureAlgorithm
	c.EncryptAssertion, c.SPCertificate, c.WantSignedRequests = r.EncryptAssertion, r.SPCertificate, r.WantSignedRequests
	c.ClockSkewSeconds, c.AssertionLifetimeSeconds = r.ClockSkewSeconds, r.AssertionLifetimeSeconds
	c.RelayStateDefault, c.AllowInsecureACS, c.AllowSHA1 = r.RelayStateDefault, r.AllowInsecureACS, r.AllowSHA1
}

const samlCols = `tenant_id, app_id, entity_id, config, version, created_at, updated_at`

func scanSAML(row rowScanner) (*access.SAMLConfig, error) {
	var c access.SAMLConfig
	var r samlRow
	if err := row.Scan(&c.Tenant, &c.App, &c.EntityID, jsonCol{&r}, &c.Version, timeCol{&c.Created}, timeCol{&c.Updated}); err != nil {
		return nil, notFound(err, access.ErrSAMLNotConfigured)
	}
	r.apply(&c)
	return &c, nil
}

// SAMLConfig returns an application's SAML configuration.
func (db *DB) SAMLConfig(ctx context.Context, t tenant.ID, app access.AppID) (*access.SAMLConfig, error) {
	return scanSAML(db.r(ctx).QueryRowContext(ctx, `SELECT `+samlCols+` FROM saml_apps WHERE tenant_id = $1 AND app_id = $2`, t, app))
}

// SAMLConfigByEntityID returns the SAML configuration with entityID in t.
func (db *DB) SAMLConfigByEntityID(ctx context.Context, t tenant.ID, entityID string) (*access.SAMLConfig, error) {
	return scanSAML(db.r(ctx).QueryRowContext(ctx, `SELECT `+samlCols+` FROM saml_apps WHERE tenant_id = $1 AND entity_id = $2`, t, entityID))
}

// PutSAMLConfig inserts or replaces an application's SAML configuration.
func (db *DB) PutSAMLConfig(ctx context.Context, c *access.SAMLConfig) error {
	config, err := jsonText(samlRowOf(c))
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO saml_apps (`+samlCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, app_id) DO UPDATE SET entity_id = excluded.entity_id, config = excluded.config,
		version = excluded.version, updated_at = excluded.updated_at`,
		c.Tenant, c.App, c.EntityID, config, c.Version, ts(c.Created), ts(c.Updated))
	switch err = translate(err); {
	case violates(err, "saml_apps", "entity_id"):
		return access.ErrSAMLEntityIDTaken
	case isForeignKey(err):
		return access.ErrAppNotFound
	}
	return err
}

// DeleteSAMLConfig removes an application's SAML configuration.
func (db *DB) DeleteSAMLConfig(ctx context.Context, t tenant.ID, app access.AppID) error {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM saml_apps WHERE tenant_id = $1 AND app_id = $2`, t, app)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return access.ErrSAMLNotConfigured
	}
	return nil
}
