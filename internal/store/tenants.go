package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tessera-iam/tessera/internal/tenant"
)

const tenantCols = "id, slug, name, COALESCE(domain, ''), version, created_at, updated_at"

func scanTenant(row rowScanner) (*tenant.Tenant, error) {
	var t tenant.Tenant
	err := row.Scan(&t.ID, &t.Slug, &t.Name, &t.Domain, &t.Version, timeCol{&t.Created}, timeCol{&t.Updated})
	if err != nil {
		return nil, notFound(err, tenant.ErrNotFound)
	}
	return &t, nil
}

// CreateTenant inserts a tenant.
func (db *DB) CreateTenant(ctx context.Context, t *tenant.Tenant) error {
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO tenants (id, slug, name, domain, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, t.Slug, t.Name, nullString(t.Domain), t.Version, ts(t.Created), ts(t.Updated))
	if err = translate(err); violates(err, "tenants", "slug") {
		return tenant.ErrSlugTaken
	}
	return err
}

// Tenant returns a tenant by id.
func (db *DB) Tenant(ctx context.Context, id tenant.ID) (*tenant.Tenant, error) {
	return scanTenant(db.r(ctx).QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
}

// TenantBySlug returns a tenant by slug.
func (db *DB) TenantBySlug(ctx context.Context, slug string) (*tenant.Tenant, error) {
	return scanTenant(db.r(ctx).QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE slug = $1`, slug))
}

// TenantByDomain returns the tenant whose own host name is domain.
func (db *DB) TenantByDomain(ctx context.Context, domain string) (*tenant.Tenant, error) {
	return scanTenant(db.r(ctx).QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE domain = $1`, domain))
}

// ListTenants returns every tenant by slug.
func (db *DB) ListTenants(ctx context.Context) ([]tenant.Tenant, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY slug`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tenant.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// UpdateTenant applies fn to the locked tenant row and writes it back.
func (db *DB) UpdateTenant(ctx context.Context, id tenant.ID, fn func(*tenant.Tenant) error) (*tenant.Tenant, error) {
	var out *tenant.Tenant
	err := db.InTx(ctx, func(ctx context.Context) error {
		t, err := scanTenant(db.w(ctx).QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`+db.forUpdate(), id))
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE tenants SET name = $2, domain = $3, version = $4, updated_at = $5 WHERE id = $1`,
			id, t.Name, nullString(t.Domain), t.Version, ts(t.Updated))
		if err = translate(err); violates(err, "tenants", "domain") {
			return tenant.ErrHostTaken
		}
		out = t
		return err
	})
	return out, err
}

// OrganizationRow returns an organization without its domains: one read
// where Organization takes two.
func (db *DB) OrganizationRow(ctx context.Context, t tenant.ID, id tenant.OrgID) (*tenant.Organization, error) {
	return scanOrg(db.r(ctx).QueryRowContext(ctx, `SELECT `+orgCols+` FROM organizations WHERE tenant_id = $1 AND id = $2`, t, id))
}

// Setting reads a tenant setting as JSON into dst.
func (db *DB) Setting(ctx context.Context, t tenant.ID, key string, dst any) (bool, error) {
	err := db.r(ctx).QueryRowContext(ctx, `SELECT value FROM tenant_settings WHERE tenant_id = $1 AND key = $2`, t, key).Scan(jsonCol{dst})
	if err == nil {
		return true, nil
	}
	if notFound(err, nil) == nil {
		return false, nil
	}
	return false, fmt.Errorf("read setting %s: %w", key, err)
}

// Settings reads several tenant settings in one statement: each key's JSON
// into the dst at the same index; found[i] reports whether keys[i] has a
// value (dsts of the others are left alone).
func (db *DB) Settings(ctx context.Context, t tenant.ID, keys []string, dsts []any) (found []bool, err error) {
	if len(keys) != len(dsts) {
		return nil, fmt.Errorf("read settings: %d keys, %d destinations", len(keys), len(dsts))
	}
	found = make([]bool, len(keys))
	if len(keys) == 0 {
		return found, nil
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, t)
	var in strings.Builder
	for i, k := range keys {
		if i > 0 {
			in.WriteString(", ")
		}
		args = append(args, k)
		fmt.Fprintf(&in, "$%d", len(args))
	}
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT key, value FROM tenant_settings WHERE tenant_id = $1 AND key IN (`+in.String()+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var value []byte
		if err := rows.Scan(&key, &value); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
		for i, k := range keys {
			if k == key && !found[i] {
				if err := (jsonCol{dsts[i]}).Scan(value); err != nil {
					return nil, fmt.Errorf("read setting %s: %w", key, err)
				}
				found[i] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return found, nil
}

// PutSetting writes a tenant setting as JSON.
func (db *DB) PutSetting(ctx context.Context, t tenant.ID, key string, v any) error {
	text, err := jsonText(v)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value`, t, key, text)
	return err
}
