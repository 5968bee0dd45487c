package store

import (
	"context"
	"slices"
	"strings"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// Row locks that order concurrent changes to effective access on
// PostgreSQL. SQLite needs none: a write transaction there already holds
// the database's only write lock.

// LockUsers locks the rows of users until the transaction ends, so two
// changes to one user's access run one after the other.
func (db *DB) LockUsers(ctx context.Context, t tenant.ID, ids []user.ID) error {
	return lockRows(ctx, db, "users", t, ids)
}

// LockGroups locks groups, so that expanding a group to its members and
// changing those members run one after the other.
func (db *DB) LockGroups(ctx context.Context, t tenant.ID, ids []group.ID) error {
	return lockRows(ctx, db, "groups", t, ids)
}

// LockBusinessRoles locks business roles, so that expanding a role to its
// holders and changing those holders run one after the other.
func (db *DB) LockBusinessRoles(ctx context.Context, t tenant.ID, ids []access.RoleID) error {
	return lockRows(ctx, db, "business_roles", t, ids)
}

// lockRows takes row locks in id order, so concurrent lockers cannot
// deadlock on one table.
func lockRows[ID ~string](ctx context.Context, db *DB, table string, t tenant.ID, ids []ID) error {
	if len(ids) == 0 || db.dialect != Postgres {
		return nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var q query
	q.arg(t)
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = q.arg(id)
	}
	rows, err := db.w(ctx).QueryContext(ctx, `SELECT id FROM `+table+` WHERE tenant_id = $1 AND id IN (`+
		strings.Join(ph, ", ")+`) ORDER BY id`+db.forUpdate(), q.args...)
	if err != nil {
		return err
	}
	return rows.Close()
}
