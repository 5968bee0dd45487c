package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const appCols = `tenant_id, id, name, kind, status, logo_url, launch_url, roles, seats, version, created_at, updated_at`

type appRoleRow struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

func scanApp(row rowScanner) (*access.Application, error) {
	var a access.Application
	var roles []appRoleRow
	err := row.Scan(&a.Tenant, &a.ID, &a.Name, &a.Kind, &a.Status, &a.LogoURL, &a.LaunchURL, jsonCol{&roles}, &a.Seats, &a.Version,
		timeCol{&a.Created}, timeCol{&a.Updated})
	if err != nil {
		return nil, notFound(err, access.ErrAppNotFound)
	}
	for _, r := range roles {
		a.Roles = append(a.Roles, access.AppRole(r))
	}
	return &a, nil
}

func appRolesJSON(a *access.Application) (any, error) {
	rows := make([]appRoleRow, len(a.Roles))
	for i, r := range a.Roles {
		rows[i] = appRoleRow(r)
	}
	return jsonText(rows)
}

func appConflict(err error) error {
	if err = translate(err); violates(err, "applications", "name_key") {
		return access.ErrAppNameTaken
	}
	return err
}

// CreateApplication inserts an application.
func (db *DB) CreateApplication(ctx context.Context, a *access.Application) error {
	roles, err := appRolesJSON(a)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO applications (tenant_id, id, name, name_key, kind, status, logo_url, launch_url, roles,
		seats, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.Tenant, a.ID, a.Name, a.NameKey(), a.Kind, a.Status, a.LogoURL, a.LaunchURL, roles, a.Seats, a.Version, ts(a.Created), ts(a.Updated))
	return appConflict(err)
}

// Application returns an application.
func (db *DB) Application(ctx context.Context, t tenant.ID, id access.AppID) (*access.Application, error) {
	return scanApp(db.r(ctx).QueryRowContext(ctx, `SELECT `+appCols+` FROM applications WHERE tenant_id = $1 AND id = $2`, t, id))
}

// ListApplications pages applications.
func (db *DB) ListApplications(ctx context.Context, t tenant.ID, r access.AppQuery) (page.Of[access.Application], error) {
	var q query
	q.and("tenant_id = %s", t)
	if r.Kind != "" {
		q.and("kind = %s", r.Kind)
	}
	if r.Status != "" {
		q.and("status = %s", r.Status)
	}
	if r.NamePrefix != "" {
		lo := user.Key(r.NamePrefix)
		q.and("name_key >= %s AND name_key < %s", lo, lo+"\U0010FFFF")
	}
	apps, next, err := appKeyset.page(ctx, db, `SELECT `+appCols+` FROM applications`, &q, r.Request, scanApp)
	if err != nil {
		return page.Of[access.Application]{}, fmt.Errorf("list applications: %w", err)
	}
	return values(apps, next), nil
}

var appKeyset = keyset[access.Application]{idCol: "id", cols: map[string]string{"name": "name_key"},
	key: func(_ string, a *access.Application) (string, string) { return a.NameKey(), string(a.ID) }}

// UpdateApplication applies fn to the locked application.
func (db *DB) UpdateApplication(ctx context.Context, t tenant.ID, id access.AppID, fn func(*access.Application) error) (*access.Application, error) {
	var out *access.Application
	err := db.InTx(ctx, func(ctx context.Context) error {
		a, err := scanApp(db.w(ctx).QueryRowContext(ctx, `SELECT `+appCols+` FROM applications WHERE tenant_id = $1 AND id = $2`+db.forUpdate(), t, id))
		if err != nil {
			return err
		}
		before := a.Version
		if err := fn(a); err != nil {
			return err
		}
		out = a
		if a.Version == before {
			return nil
		}
		roles, err := appRolesJSON(a)
		if err != nil {
			return err
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE applications SET name = $3, name_key = $4, status = $5, logo_url = $6, launch_url = $7,
			roles = $8, seats = $9, version = $10, updated_at = $11 WHERE tenant_id = $1 AND id = $2`,
			t, id, a.Name, a.NameKey(), a.Status, a.LogoURL, a.LaunchURL, roles, a.Seats, a.Version, ts(a.Updated))
		return appConflict(err)
	})
	return out, err
}

// DeleteApplication removes an application and its assignments.
func (db *DB) DeleteApplication(ctx context.Context, t tenant.ID, id access.AppID) error {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM applications WHERE tenant_id = $1 AND id = $2`, t, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return access.ErrAppNotFound
	}
	return nil
}

// LockApplications locks applications in id order for the transaction.
func (db *DB) LockApplications(ctx context.Context, t tenant.ID, ids []access.AppID) ([]access.Application, error) {
	var q query
	q.arg(t)
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = q.arg(id)
	}
	rows, err := db.w(ctx).QueryContext(ctx, `SELECT `+appCols+` FROM applications WHERE tenant_id = $1 AND id IN (`+
		strings.Join(ph, ", ")+`) ORDER BY id`+db.forUpdate(), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.Application
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// optCursor decodes a cursor when one was given.
func optCursor(s, sort string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	c, err := decodeCursor(s, sort)
	if err != nil {
		return nil, err
	}
	return &c, nil
}
