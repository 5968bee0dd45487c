package store

import (
	"context"
	"fmt"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const roleCols = `tenant_id, id, name, description, version, created_at, updated_at`

func scanRole(row rowScanner) (*access.BusinessRole, error) {
	var r access.BusinessRole
	if err := row.Scan(&r.Tenant, &r.ID, &r.Name, &r.Description, &r.Version, timeCol{&r.Created}, timeCol{&r.Updated}); err != nil {
		return nil, notFound(err, access.ErrRoleNotFound)
	}
	return &r, nil
}

func roleConflict(err error) error {
	if err = translate(err); violates(err, "business_roles", "name_key") {
		return access.ErrRoleNameTaken
	}
	return err
}

// CreateBusinessRole inserts a business role.
func (db *DB) CreateBusinessRole(ctx context.Context, r *access.BusinessRole) error {
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO business_roles (tenant_id, id, name, name_key, description, version,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.Tenant, r.ID, r.Name, r.NameKey(), r.Description, r.Version, ts(r.Created), ts(r.Updated))
	return roleConflict(err)
}

// BusinessRole returns a business role.
func (db *DB) BusinessRole(ctx context.Context, t tenant.ID, id access.RoleID) (*access.BusinessRole, error) {
	return scanRole(db.r(ctx).QueryRowContext(ctx, `SELECT `+roleCols+` FROM business_roles WHERE tenant_id = $1 AND id = $2`, t, id))
}

// ListBusinessRoles pages business roles.
func (db *DB) ListBusinessRoles(ctx context.Context, t tenant.ID, r access.RoleQuery) (page.Of[access.BusinessRole], error) {
	var q query
	q.and("tenant_id = %s", t)
	if r.NamePrefix != "" {
		lo := user.Key(r.NamePrefix)
		q.and("name_key >= %s AND name_key < %s", lo, lo+"\U0010FFFF")
	}
	roles, next, err := roleKeyset.page(ctx, db, `SELECT `+roleCols+` FROM business_roles`, &q, r.Request, scanRole)
	if err != nil {
		return page.Of[access.BusinessRole]{}, fmt.Errorf("list business roles: %w", err)
	}
	return values(roles, next), nil
}

var roleKeyset = keyset[access.BusinessRole]{idCol: "id", cols: map[string]string{"name": "name_key"},
	key: func(_ string, b *access.BusinessRole) (string, string) { return b.NameKey(), string(b.ID) }}

// UpdateBusinessRole applies fn to the locked role.
func (db *DB) UpdateBusinessRole(ctx context.Context, t tenant.ID, id access.RoleID, fn func(*access.BusinessRole) error) (*access.BusinessRole, error) {
	var out *access.BusinessRole
	err := db.InTx(ctx, func(ctx context.Context) error {
		r, err := scanRole(db.w(ctx).QueryRowContext(ctx, `SELECT `+roleCols+` FROM business_roles WHERE tenant_id = $1 AND id = $2`+db.forUpdate(), t, id))
		if err != nil {
			return err
		}
		before := r.Version
		if err := fn(r); err != nil {
			return err
		}
		out = r
		if r.Version == before {
			return nil
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE business_roles SET name = $3, name_key = $4, description = $5, version = $6,
			updated_at = $7 WHERE tenant_id = $1 AND id = $2`, t, id, r.Name, r.NameKey(), r.Description, r.Version, ts(r.Updated))
		return roleConflict(err)
	})
	return out, err
}

// DeleteBusinessRole removes a role with its holders and assignments.
func (db *DB) DeleteBusinessRole(ctx context.Context, t tenant.ID, id access.RoleID) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		if _, err := db.w(ctx).ExecContext(ctx, `DELETE FROM assignments WHERE tenant_id = $1 AND principal_type = 'business_role'
			AND principal_id = $2`, t, id); err != nil {
			return err
		}
		res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM business_roles WHERE tenant_id = $1 AND id = $2`, t, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return access.ErrRoleNotFound
		}
		return nil
	})
}

// AddHolder records a holder; false if already held.
func (db *DB) AddHolder(ctx context.Context, t tenant.ID, r access.RoleID, h access.Holder) (bool, error) {
	res, err := db.w(ctx).ExecContext(ctx, `INSERT INTO business_role_holders (tenant_id, role_id, holder_type, holder_id, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, role_id, holder_type, holder_id) DO NOTHING`, t, r, h.Type, h.ID, ts(h.Created))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RemoveHolder deletes a holder; false if there was none.
func (db *DB) RemoveHolder(ctx context.Context, t tenant.ID, r access.RoleID, h access.Holder) (bool, error) {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM business_role_holders WHERE tenant_id = $1 AND role_id = $2
		AND holder_type = $3 AND holder_id = $4`, t, r, h.Type, h.ID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ListHolders returns a role's holders by type and id.
func (db *DB) ListHolders(ctx context.Context, t tenant.ID, r access.RoleID) ([]access.Holder, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT holder_type, holder_id, created_at FROM business_role_holders
		WHERE tenant_id = $1 AND role_id = $2 ORDER BY holder_type, holder_id`, t, r)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.Holder
	for rows.Next() {
		var h access.Holder
		if err := rows.Scan(&h.Type, &h.ID, timeCol{&h.Created}); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
