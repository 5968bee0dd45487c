package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const assignmentCols = `tenant_id, id, app_id, principal_type, principal_id, roles, created_at, updated_at`

func scanAssignment(row rowScanner) (*access.Assignment, error) {
	var a access.Assignment
	err := row.Scan(&a.Tenant, &a.ID, &a.App, &a.Principal.Type, &a.Principal.ID, jsonCol{&a.Roles}, timeCol{&a.Created}, timeCol{&a.Updated})
	if err != nil {
		return nil, notFound(err, access.ErrAssignmentNotFound)
	}
	if a.Roles == nil {
		a.Roles = []string{}
	}
	return &a, nil
}

// CreateAssignment inserts an assignment.
func (db *DB) CreateAssignment(ctx context.Context, a *access.Assignment) error {
	roles, err := jsonText(a.Roles)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO assignments (`+assignmentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		a.Tenant, a.ID, a.App, a.Principal.Type, a.Principal.ID, roles, ts(a.Created), ts(a.Updated))
	if err = translate(err); violates(err, "assignments", "principal") {
		return access.ErrAssigned
	}
	return err
}

// Assignment returns an assignment.
func (db *DB) Assignment(ctx context.Context, t tenant.ID, id access.AssignmentID) (*access.Assignment, error) {
	return scanAssignment(db.r(ctx).QueryRowContext(ctx, `SELECT `+assignmentCols+` FROM assignments WHERE tenant_id = $1 AND id = $2`, t, id))
}

// ListAssignments pages an application's assignments by creation.
func (db *DB) ListAssignments(ctx context.Context, t tenant.ID, app access.AppID, r page.Request) (page.Of[access.Assignment], error) {
	var q query
	q.and("tenant_id = %s AND app_id = %s", t, app)
	as, next, err := assignmentKeyset.page(ctx, db, `SELECT `+assignmentCols+` FROM assignments`, &q, r, scanAssignment)
	if err != nil {
		return page.Of[access.Assignment]{}, fmt.Errorf("list assignments: %w", err)
	}
	return values(as, next), nil
}

var assignmentKeyset = keyset[access.Assignment]{idCol: "id",
	key: func(_ string, a *access.Assignment) (string, string) { return "", string(a.ID) }}

// UpdateAssignment applies fn to the locked assignment.
func (db *DB) UpdateAssignment(ctx context.Context, t tenant.ID, id access.AssignmentID, fn func(*access.Assignment) error) (*access.Assignment, error) {
	var out *access.Assignment
	err := db.InTx(ctx, func(ctx context.Context) error {
		a, err := scanAssignment(db.w(ctx).QueryRowContext(ctx, `SELECT `+assignmentCols+` FROM assignments WHERE tenant_id = $1 AND id = $2`+
			db.forUpdate(), t, id))
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		roles, err := jsonText(a.Roles)
		if err != nil {
			return err
		}
		out = a
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE assignments SET roles = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`,
			t, id, roles, ts(a.Updated))
		return err
	})
	return out, err
}

// DeleteAssignment removes an assignment.
func (db *DB) DeleteAssignment(ctx context.Context, t tenant.ID, id access.AssignmentID) error {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM assignments WHERE tenant_id = $1 AND id = $2`, t, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return access.ErrAssignmentNotFound
	}
	return nil
}

// DropAppRole removes role from every assignment of app.
func (db *DB) DropAppRole(ctx context.Context, t tenant.ID, app access.AppID, role string) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		rows, err := db.w(ctx).QueryContext(ctx, `SELECT `+assignmentCols+` FROM assignments WHERE tenant_id = $1 AND app_id = $2`, t, app)
		if err != nil {
			return err
		}
		var touched []access.Assignment
		for rows.Next() {
			a, err := scanAssignment(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if i := slices.Index(a.Roles, role); i >= 0 {
				a.Roles = slices.Delete(a.Roles, i, i+1)
				touched = append(touched, *a)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range touched {
			roles, err := jsonText(a.Roles)
			if err != nil {
				return err
			}
			if _, err := db.w(ctx).ExecContext(ctx, `UPDATE assignments SET roles = $3 WHERE tenant_id = $1 AND id = $2`, t, a.ID, roles); err != nil {
				return err
			}
		}
		return nil
	})
}

// principals is every principal that reaches user $2 of tenant $1, with the
// path it takes: the user itself, its groups, the business roles it holds,
// and the business roles its groups hold.
const principals = `
	SELECT 'user' AS ptype, CAST($2 AS TEXT) AS pid, 'direct' AS via_type, '' AS via_id
	UNION ALL
	SELECT 'group', m.group_id, 'group', m.group_id FROM group_members m WHERE m.tenant_id = $1 AND m.user_id = $2
	UNION ALL
	SELECT 'business_role', h.role_id, 'business_role', h.role_id FROM business_role_holders h
		WHERE h.tenant_id = $1 AND h.holder_type = 'user' AND h.holder_id = $2
	UNION ALL
	SELECT 'business_role', h.role_id, 'business_role', h.role_id FROM business_role_holders h
		JOIN group_members m ON m.tenant_id = h.tenant_id AND m.group_id = h.holder_id
		WHERE h.tenant_id = $1 AND h.holder_type = 'group' AND m.user_id = $2`

// Candidates returns the assignments of active applications that reach u.
func (db *DB) Candidates(ctx context.Context, t tenant.ID, u user.ID) ([]access.Candidate, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT a.app_id, a.roles, p.via_type, p.via_id FROM (`+principals+`) p
		JOIN assignments a ON a.tenant_id = $1 AND a.principal_type = p.ptype AND a.principal_id = p.pid
		JOIN applications ap ON ap.tenant_id = a.tenant_id AND ap.id = a.app_id
		WHERE ap.status = 'active'`, t, u)
	if err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	defer rows.Close()
	var out []access.Candidate
	for rows.Next() {
		var c access.Candidate
		if err := rows.Scan(&c.App, jsonCol{&c.Roles}, &c.Via.Type, &c.Via.ID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// reachOf expands principal ($2 type, $3 id) of tenant $1 to user ids.
const reachOf = `
	SELECT CAST($3 AS TEXT) AS user_id WHERE $2 = 'user'
	UNION
	SELECT m.user_id FROM group_members m WHERE $2 = 'group' AND m.tenant_id = $1 AND m.group_id = $3
	UNION
	SELECT h.holder_id FROM business_role_holders h
		WHERE $2 = 'business_role' AND h.tenant_id = $1 AND h.role_id = $3 AND h.holder_type = 'user'
	UNION
	SELECT m.user_id FROM business_role_holders h JOIN group_members m ON m.tenant_id = h.tenant_id AND m.group_id = h.holder_id
		WHERE $2 = 'business_role' AND h.tenant_id = $1 AND h.role_id = $3 AND h.holder_type = 'group'`

// Reach expands a principal to the users it reaches now.
func (db *DB) Reach(ctx context.Context, t tenant.ID, p access.Principal) ([]user.ID, error) {
	return db.userIDs(ctx, reachOf, t, p.Type, p.ID)
}

// AppUsers returns the users an application's assignments reach, and those
// holding access to it now.
func (db *DB) AppUsers(ctx context.Context, t tenant.ID, app access.AppID) ([]user.ID, error) {
	return db.userIDs(ctx, `
		SELECT a.principal_id FROM assignments a WHERE a.tenant_id = $1 AND a.app_id = $2 AND a.principal_type = 'user'
		UNION
		SELECT m.user_id FROM assignments a JOIN group_members m ON m.tenant_id = a.tenant_id AND m.group_id = a.principal_id
			WHERE a.tenant_id = $1 AND a.app_id = $2 AND a.principal_type = 'group'
		UNION
		SELECT h.holder_id FROM assignments a JOIN business_role_holders h ON h.tenant_id = a.tenant_id AND h.role_id = a.principal_id
			WHERE a.tenant_id = $1 AND a.app_id = $2 AND a.principal_type = 'business_role' AND h.holder_type = 'user'
		UNION
		SELECT m.user_id FROM assignments a JOIN business_role_holders h ON h.tenant_id = a.tenant_id AND h.role_id = a.principal_id
			JOIN group_members m ON m.tenant_id = h.tenant_id AND m.group_id = h.holder_id
			WHERE a.tenant_id = $1 AND a.app_id = $2 AND a.principal_type = 'business_role' AND h.holder_type = 'group'
		UNION
		SELECT i.user_id FROM access_intervals i WHERE i.tenant_id = $1 AND i.app_id = $2 AND i.valid_to IS NULL`, t, app)
}

// AppPrincipals returns the distinct principals of app's assignments.
func (db *DB) AppPrincipals(ctx context.Context, t tenant.ID, app access.AppID) ([]access.Principal, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT DISTINCT principal_type, principal_id FROM assignments
		WHERE tenant_id = $1 AND app_id = $2`, t, app)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.Principal
	for rows.Next() {
		var p access.Principal
		if err := rows.Scan(&p.Type, &p.ID); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// OrgUsers returns the users homed in org.
func (db *DB) OrgUsers(ctx context.Context, t tenant.ID, org tenant.OrgID) ([]user.ID, error) {
	return db.userIDs(ctx, `SELECT id FROM users WHERE tenant_id = $1 AND organization_id = $2`, t, org)
}

func (db *DB) userIDs(ctx context.Context, q string, args ...any) ([]user.ID, error) {
	rows, err := db.r(ctx).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []user.ID
	for rows.Next() {
		var id user.ID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
