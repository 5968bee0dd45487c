package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const groupCols = `g.tenant_id, g.id, g.name, g.description, COALESCE(g.organization_id, ''), COALESCE(g.external_id, ''),
	(SELECT COUNT(*) FROM group_members c WHERE c.tenant_id = g.tenant_id AND c.group_id = g.id),
	g.version, g.created_at, g.updated_at`

func scanGroup(row rowScanner) (*group.Group, error) {
	var g group.Group
	err := row.Scan(&g.Tenant, &g.ID, &g.Name, &g.Description, &g.Org, &g.ExternalID, &g.Members, &g.Version,
		timeCol{&g.Created}, timeCol{&g.Updated})
	if err != nil {
		return nil, notFound(err, group.ErrNotFound)
	}
	return &g, nil
}

func groupConflict(err error) error {
	err = translate(err)
	switch {
	case violates(err, "groups", "name_key"):
		return group.ErrNameTaken
	case violates(err, "groups", "external_id"):
		return group.ErrExternalIDTaken
	case isForeignKey(err):
		return fmt.Errorf("group refers to a missing organization: %w", tenant.ErrOrgNotFound)
	}
	return err
}

// CreateGroup inserts a group.
func (db *DB) CreateGroup(ctx context.Context, g *group.Group) error {
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO groups (tenant_id, id, name, name_key, description, organization_id,
		scope, external_id, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		g.Tenant, g.ID, g.Name, g.NameKey(), g.Description, nullString(string(g.Org)), g.Org, nullString(g.ExternalID),
		g.Version, ts(g.Created), ts(g.Updated))
	return groupConflict(err)
}

// Group returns a group by id.
func (db *DB) Group(ctx context.Context, t tenant.ID, id group.ID) (*group.Group, error) {
	return scanGroup(db.r(ctx).QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups g WHERE g.tenant_id = $1 AND g.id = $2`, t, id))
}

// ListGroups pages a tenant's groups.
func (db *DB) ListGroups(ctx context.Context, t tenant.ID, r group.Query) (page.Of[group.Group], error) {
	var q query
	q.and("g.tenant_id = %s", t)
	if r.Org != "" {
		q.and("g.organization_id = %s", r.Org)
	}
	if r.NamePrefix != "" {
		p := strings.ToLower(r.NamePrefix)
		q.and("g.name_key >= %s AND g.name_key < %s", p, p+"\U0010FFFF")
	}
	if r.Member != "" {
		q.and("EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.id AND m.user_id = %s)", r.Member)
	}
	gs, next, err := groupKeyset.page(ctx, db, `SELECT `+groupCols+` FROM groups g`, &q, r.Request, scanGroup)
	if err != nil {
		return page.Of[group.Group]{}, fmt.Errorf("list groups: %w", err)
	}
	return values(gs, next), nil
}

var groupKeyset = keyset[group.Group]{idCol: "g.id", cols: map[string]string{"name": "g.name_key"},
	key: func(_ string, g *group.Group) (string, string) { return g.NameKey(), string(g.ID) }}

// UpdateGroup applies fn to the locked group and writes it back.
func (db *DB) UpdateGroup(ctx context.Context, t tenant.ID, id group.ID, fn func(*group.Group) error) (*group.Group, error) {
	var out *group.Group
	err := db.InTx(ctx, func(ctx context.Context) error {
		g, err := scanGroup(db.w(ctx).QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups g WHERE g.tenant_id = $1 AND g.id = $2`+
			db.forUpdate(), t, id))
		if err != nil {
			return err
		}
		before := g.Version
		if err := fn(g); err != nil {
			return err
		}
		out = g
		if g.Version == before {
			return nil
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE groups SET name = $3, name_key = $4, description = $5, external_id = $6,
			version = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2`,
			t, id, g.Name, g.NameKey(), g.Description, nullString(g.ExternalID), g.Version, ts(g.Updated))
		return groupConflict(err)
	})
	return out, err
}

// DeleteGroup removes a group, its memberships, assignments and business
// roles held.
func (db *DB) DeleteGroup(ctx context.Context, t tenant.ID, id group.ID) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		if err := db.dropPrincipal(ctx, t, "group", string(id)); err != nil {
			return err
		}
		res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM groups WHERE tenant_id = $1 AND id = $2`, t, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return group.ErrNotFound
		}
		return nil
	})
}

// MemberIDs returns the ids of a group's members.
func (db *DB) MemberIDs(ctx context.Context, t tenant.ID, g group.ID) ([]user.ID, error) {
	return db.userIDs(ctx, `SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2`, t, g)
}

// GroupsOfUser returns a user's organization and the groups they belong to
// (id, name, organization), by group id, in one statement.
func (db *DB) GroupsOfUser(ctx context.Context, t tenant.ID, u user.ID) (tenant.OrgID, []group.Group, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT COALESCE(u.organization_id, ''), g.id, g.name, COALESCE(g.organization_id, '')
		FROM users u
		LEFT JOIN group_members m ON m.tenant_id = u.tenant_id AND m.user_id = u.id
		LEFT JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
		WHERE u.tenant_id = $1 AND u.id = $2 ORDER BY g.id`, t, u)
	if err != nil {
		return "", nil, fmt.Errorf("groups of user: %w", err)
	}
	defer rows.Close()
	var org tenant.OrgID
	var out []group.Group
	found := false
	for rows.Next() {
		var id, name, gorg sql.NullString
		if err := rows.Scan(&org, &id, &name, &gorg); err != nil {
			return "", nil, err
		}
		found = true
		if id.Valid {
			out = append(out, group.Group{Tenant: t, ID: group.ID(id.String), Name: name.String, Org: tenant.OrgID(gorg.String)})
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, user.ErrNotFound
	}
	return org, out, nil
}

// UserOrg returns a user's organization, in one small read.
func (db *DB) UserOrg(ctx context.Context, t tenant.ID, u user.ID) (tenant.OrgID, error) {
	var org tenant.OrgID
	err := db.r(ctx).QueryRowContext(ctx, `SELECT COALESCE(organization_id, '') FROM users WHERE tenant_id = $1 AND id = $2`, t, u).Scan(&org)
	if err != nil {
		return "", notFound(err, user.ErrNotFound)
	}
	return org, nil
}

// AddMember adds a membership; false if it was already there.
func (db *DB) AddMember(ctx context.Context, t tenant.ID, g group.ID, u user.ID, at time.Time) (bool, error) {
	res, err := db.w(ctx).ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, user_id, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, group_id, user_id) DO NOTHING`, t, g, u, ts(at))
	if err = translate(err); isForeignKey(err) {
		return false, user.ErrNotFound
	} else if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RemoveMember deletes a membership; false if there was none.
func (db *DB) RemoveMember(ctx context.Context, t tenant.ID, g group.ID, u user.ID) (bool, error) {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3`, t, g, u)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RemoveMembershipsOutside drops u from organization groups of other
// organizations than org.
func (db *DB) RemoveMembershipsOutside(ctx context.Context, t tenant.ID, u user.ID, org tenant.OrgID) ([]group.ID, error) {
	rows, err := db.w(ctx).QueryContext(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND user_id = $2 AND group_id IN
		(SELECT id FROM groups WHERE tenant_id = $1 AND organization_id IS NOT NULL AND organization_id <> $3)
		RETURNING group_id`, t, u, org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []group.ID
	for rows.Next() {
		var g group.ID
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
