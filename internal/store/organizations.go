package store

import (
	"context"
	"strings"

	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
)

const orgCols = "tenant_id, id, name, COALESCE(external_id, ''), status, version, created_at, updated_at"

func scanOrg(row rowScanner) (*tenant.Organization, error) {
	var o tenant.Organization
	err := row.Scan(&o.Tenant, &o.ID, &o.Name, &o.ExternalID, &o.Status, &o.Version, timeCol{&o.Created}, timeCol{&o.Updated})
	if err != nil {
		return nil, notFound(err, tenant.ErrOrgNotFound)
	}
	return &o, nil
}

// CreateOrganization inserts an organization and its domains.
func (db *DB) CreateOrganization(ctx context.Context, o *tenant.Organization) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO organizations (tenant_id, id, name, name_key, external_id, status,
			version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			o.Tenant, o.ID, o.Name, o.NameKey(), nullString(o.ExternalID), o.Status, o.Version, ts(o.Created), ts(o.Updated))
		if err := orgConflict(err); err != nil {
			return err
		}
		return db.insertDomains(ctx, o, o.Domains)
	})
}

func orgConflict(err error) error {
	err = translate(err)
	switch {
	case violates(err, "organizations", "name_key"):
		return tenant.ErrOrgNameTaken
	case violates(err, "organizations", "external_id"):
		return tenant.ErrExternalIDTaken
	}
	return err
}

func (db *DB) insertDomains(ctx context.Context, o *tenant.Organization, ds []tenant.Domain) error {
	for _, d := range ds {
		_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO organization_domains (tenant_id, domain, organization_id, verified,
			token, verified_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			o.Tenant, d.Name, o.ID, d.Verified, d.Token, ts(d.VerifiedAt), ts(d.Created))
		if err = translate(err); violates(err, "organization_domains", "domain") || violates(err, "organization_domains", "pkey") {
			return tenant.ErrDomainTaken
		} else if err != nil {
			return err
		}
	}
	return nil
}

// loadDomains fills the domains of orgs with one query.
func (db *DB) loadDomains(ctx context.Context, t tenant.ID, orgs []*tenant.Organization) error {
	if len(orgs) == 0 {
		return nil
	}
	var q query
	byID := map[tenant.OrgID]*tenant.Organization{}
	ids := make([]string, len(orgs))
	q.arg(t)
	for i, o := range orgs {
		byID[o.ID] = o
		ids[i] = q.arg(o.ID)
	}
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT organization_id, domain, verified, token, verified_at, created_at
		FROM organization_domains WHERE tenant_id = $1 AND organization_id IN (`+strings.Join(ids, ", ")+`) ORDER BY domain`, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var org tenant.OrgID
		var d tenant.Domain
		if err := rows.Scan(&org, &d.Name, &d.Verified, &d.Token, timeCol{&d.VerifiedAt}, timeCol{&d.Created}); err != nil {
			return err
		}
		byID[org].Domains = append(byID[org].Domains, d)
	}
	return rows.Err()
}

func (db *DB) organization(ctx context.Context, q querier, t tenant.ID, id tenant.OrgID, lock string) (*tenant.Organization, error) {
	o, err := scanOrg(q.QueryRowContext(ctx, `SELECT `+orgCols+` FROM organizations WHERE tenant_id = $1 AND id = $2`+lock, t, id))
	if err != nil {
		return nil, err
	}
	return o, db.loadDomains(ctx, t, []*tenant.Organization{o})
}

// Organization returns an organization with its domains.
func (db *DB) Organization(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error) {
	return db.organization(ctx, db.r(ctx), t, id, "")
}

// OrganizationByDomain returns the organization that claims domain.
func (db *DB) OrganizationByDomain(ctx context.Context, t tenant.ID, domain string) (*tenant.Organization, error) {
	var id tenant.OrgID
	err := db.r(ctx).QueryRowContext(ctx, `SELECT organization_id FROM organization_domains WHERE tenant_id = $1 AND domain = $2`,
		t, domain).Scan(&id)
	if err != nil {
		return nil, notFound(err, tenant.ErrOrgNotFound)
	}
	return db.Organization(ctx, t, id)
}

// ListOrganizations pages a tenant's organizations.
func (db *DB) ListOrganizations(ctx context.Context, t tenant.ID, r tenant.OrgQuery) (page.Of[tenant.Organization], error) {
	var q query
	q.and("tenant_id = %s", t)
	if r.Status != "" {
		q.and("status = %s", r.Status)
	}
	if r.ExternalID != "" {
		q.and("external_id = %s", r.ExternalID)
	}
	if r.NamePrefix != "" {
		lo := strings.ToLower(r.NamePrefix)
		q.and("name_key >= %s AND name_key < %s", lo, lo+"\U0010FFFF")
	}
	orgs, next, err := orgKeyset.page(ctx, db, `SELECT `+orgCols+` FROM organizations`, &q, r.Request, scanOrg)
	if err != nil {
		return page.Of[tenant.Organization]{}, err
	}
	if err := db.loadDomains(ctx, t, orgs); err != nil {
		return page.Of[tenant.Organization]{}, err
	}
	return values(orgs, next), nil
}

var orgKeyset = keyset[tenant.Organization]{idCol: "id", cols: map[string]string{"name": "name_key"},
	key: func(_ string, o *tenant.Organization) (string, string) { return o.NameKey(), string(o.ID) }}

// UpdateOrganization applies fn to the locked organization and writes back
// its fields and domain set.
func (db *DB) UpdateOrganization(ctx context.Context, t tenant.ID, id tenant.OrgID, fn func(*tenant.Organization) error) (*tenant.Organization, error) {
	var out *tenant.Organization
	err := db.InTx(ctx, func(ctx context.Context) error {
		o, err := db.organization(ctx, db.w(ctx), t, id, db.forUpdate())
		if err != nil {
			return err
		}
		before := o.Version
		if err := fn(o); err != nil {
			return err
		}
		out = o
		if o.Version == before {
			return nil
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE organizations SET name = $3, name_key = $4, external_id = $5, status = $6,
			version = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2`,
			t, id, o.Name, o.NameKey(), nullString(o.ExternalID), o.Status, o.Version, ts(o.Updated))
		if err := orgConflict(err); err != nil {
			return err
		}
		if _, err := db.w(ctx).ExecContext(ctx, `DELETE FROM organization_domains WHERE tenant_id = $1 AND organization_id = $2`, t, id); err != nil {
			return err
		}
		return db.insertDomains(ctx, o, o.Domains)
	})
	return out, err
}

// DeleteOrganization removes an organization nobody is homed in, with its
// API tokens: a token scoped to an organization that is gone reaches nothing.
func (db *DB) DeleteOrganization(ctx context.Context, t tenant.ID, id tenant.OrgID) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		if _, err := db.w(ctx).ExecContext(ctx, `DELETE FROM api_tokens WHERE tenant_id = $1 AND organization_id = $2`, t, id); err != nil {
			return err
		}
		res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM organizations WHERE tenant_id = $1 AND id = $2`, t, id)
		if err = translate(err); isForeignKey(err) {
			return tenant.ErrOrgInUse
		} else if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tenant.ErrOrgNotFound
		}
		return nil
	})
}
