package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const userCols = `u.tenant_id, u.id, u.username, u.emails, u.given_name, u.family_name, u.display_name, u.phone, u.locale,
	u.time_zone, u.attributes, COALESCE(u.organization_id, ''), u.source, u.status, u.locked, u.password_changed_at,
	u.status_changed_at, u.version, u.created_at, u.updated_at`

// emailRow is how an email is kept in the emails JSON column.
type emailRow struct {
	Value    string `json:"value"`
	Primary  bool   `json:"primary,omitempty"`
	Verified bool   `json:"verified,omitempty"`
}

func scanUser(row rowScanner) (*user.User, error) {
	var u user.User
	var emails []emailRow
	err := row.Scan(&u.Tenant, &u.ID, &u.Username, jsonCol{&emails}, &u.GivenName, &u.FamilyName, &u.DisplayName,
		&u.Phone, &u.Locale, &u.TimeZone, jsonCol{&u.Attributes}, &u.Org, &u.Source, &u.Status, &u.Locked,
		timeCol{&u.PasswordChanged}, timeCol{&u.StatusChanged}, &u.Version, timeCol{&u.Created}, timeCol{&u.Updated})
	if err != nil {
		return nil, notFound(err, user.ErrNotFound)
	}
	for _, e := range emails {
		u.Emails = append(u.Emails, user.Email(e))
	}
	return &u, nil
}

func userArgs(u *user.User) ([]any, error) {
	emails := make([]emailRow, len(u.Emails))
	for i, e := range u.Emails {
		emails[i] = emailRow(e)
	}
	ej, err := jsonText(emails)
	if err != nil {
		return nil, err
	}
	attrs := u.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	aj, err := jsonText(attrs)
	if err != nil {
		return nil, err
	}
	return []any{u.Tenant, u.ID, u.Username, u.UsernameKey(), nullString(u.EmailKey()), ej, u.GivenName, u.FamilyName,
		u.DisplayName, u.Phone, u.Locale, u.TimeZone, aj, nullString(string(u.Org)), u.Source, u.Status, u.Locked,
		ts(u.PasswordChanged), ts(u.StatusChanged), u.Version, ts(u.Created), ts(u.Updated)}, nil
}

func userConflict(err error) error {
	err = translate(err)
	switch {
	case violates(err, "users", "username_key"):
		return user.ErrUsernameTaken
	case violates(err, "users", "email_key"):
		return user.ErrEmailTaken
	case violates(err, "user_logins", "pkey"), violates(err, "user_logins", "login_key"):
		return errLoginTaken
	case violates(err, "user_external_ids", "pkey"), violates(err, "user_external_ids", "external_id"):
		return user.ErrExternalIDTaken
	case isForeignKey(err):
		return fmt.Errorf("user refers to a missing organization: %w", tenant.ErrOrgNotFound)
	}
	return err
}

// errLoginTaken is refined by putLogins into the username or email error.
var errLoginTaken = errors.New("login key taken")

// putLogins claims u's username and email keys in the tenant's sign-in
// namespace, replacing the keys it held before.
func (db *DB) putLogins(ctx context.Context, u *user.User, replace bool) error {
	w := db.w(ctx)
	if replace {
		if _, err := w.ExecContext(ctx, `DELETE FROM user_logins WHERE tenant_id = $1 AND user_id = $2`, u.Tenant, u.ID); err != nil {
			return err
		}
	}
	keys := []struct{ key, kind string }{{u.UsernameKey(), "username"}}
	if e := u.EmailKey(); e != "" && e != u.UsernameKey() {
		keys = append(keys, struct{ key, kind string }{e, "email"})
	}
	for _, k := range keys {
		_, err := w.ExecContext(ctx, `INSERT INTO user_logins (tenant_id, login_key, user_id, kind) VALUES ($1, $2, $3, $4)`,
			u.Tenant, k.key, u.ID, k.kind)
		if err = userConflict(err); errors.Is(err, errLoginTaken) {
			if k.kind == "email" {
				return user.ErrEmailTaken
			}
			return user.ErrUsernameTaken
		} else if err != nil {
			return err
		}
	}
	return nil
}

// CreateUser inserts a user, its sign-in keys and its external ids.
func (db *DB) CreateUser(ctx context.Context, u *user.User) error {
	args, err := userArgs(u)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(ctx context.Context) error {
		_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO users (tenant_id, id, username, username_key, email_key, emails,
			given_name, family_name, display_name, phone, locale, time_zone, attributes, organization_id, source, status,
			locked, password_changed_at, status_changed_at, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`, args...)
		if err := userConflict(err); err != nil {
			return err
		}
		if err := db.putLogins(ctx, u, false); err != nil {
			return err
		}
		return db.insertExternalIDs(ctx, u)
	})
}

func (db *DB) insertExternalIDs(ctx context.Context, u *user.User) error {
	for source, ext := range u.ExternalIDs {
		_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO user_external_ids (tenant_id, source, external_id, user_id)
			VALUES ($1, $2, $3, $4)`, u.Tenant, source, ext, u.ID)
		if err := userConflict(err); err != nil {
			return err
		}
	}
	return nil
}

// loadExternalIDs fills the external ids of users with one query.
func (db *DB) loadExternalIDs(ctx context.Context, q querier, t tenant.ID, users []*user.User) error {
	if len(users) == 0 {
		return nil
	}
	var b query
	b.arg(t)
	byID := make(map[user.ID]*user.User, len(users))
	in := ""
	for i, u := range users {
		byID[u.ID] = u
		if i > 0 {
			in += ", "
		}
		in += b.arg(u.ID)
	}
	rows, err := q.QueryContext(ctx, `SELECT user_id, source, external_id FROM user_external_ids
		WHERE tenant_id = $1 AND user_id IN (`+in+`)`, b.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id user.ID
		var source, ext string
		if err := rows.Scan(&id, &source, &ext); err != nil {
			return err
		}
		u := byID[id]
		if u.ExternalIDs == nil {
			u.ExternalIDs = map[string]string{}
		}
		u.ExternalIDs[source] = ext
	}
	return rows.Err()
}

func (db *DB) oneUser(ctx context.Context, q querier, where string, args ...any) (*user.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE `+where, args...))
	if err != nil {
		return nil, err
	}
	return u, db.loadExternalIDs(ctx, q, u.Tenant, []*user.User{u})
}

// User returns a user by id.
func (db *DB) User(ctx context.Context, t tenant.ID, id user.ID) (*user.User, error) {
	return db.oneUser(ctx, db.r(ctx), `u.tenant_id = $1 AND u.id = $2`, t, id)
}

// UserByKey returns the user whose username key or primary email key is key
// (one namespace: at most one user matches).
func (db *DB) UserByKey(ctx context.Context, t tenant.ID, key string) (*user.User, error) {
	return db.oneUser(ctx, db.r(ctx), `u.tenant_id = $1 AND u.id = (SELECT l.user_id FROM user_logins l
		WHERE l.tenant_id = $1 AND l.login_key = $2)`, t, key)
}

// userKeys orders users: by id (creation), username key, or update time.
var userKeys = keyset[user.User]{cols: map[string]string{"username": "u.username_key", "updated": "u.updated_at"},
	key: func(sort string, u *user.User) (string, string) {
		if sort == "updated" {
			return u.Updated.UTC().Format(timeLayout), string(u.ID)
		}
		return u.UsernameKey(), string(u.ID)
	}}

// ListUsers pages a tenant's users.
func (db *DB) ListUsers(ctx context.Context, t tenant.ID, r user.Query) (page.Of[user.User], error) {
	var q query
	from := ` FROM users u`
	keys := userKeys
	keys.idCol = "u.id"
	if r.Group != "" {
		// Drive from the membership index: a small group in a large tenant
		// must not scan every user.
		from = ` FROM group_members m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id`
		q.and("m.tenant_id = %s AND m.group_id = %s", t, r.Group)
		keys.idCol = "m.user_id"
	} else {
		q.and("u.tenant_id = %s", t)
	}
	if r.Status != "" {
		q.and("u.status = %s", r.Status)
	}
	if r.Org != "" {
		q.and("u.organization_id = %s", r.Org)
	}
	if r.Email != "" {
		q.and("u.email_key = %s", user.Key(r.Email))
	}
	if r.UsernamePrefix != "" {
		p := user.Key(r.UsernamePrefix)
		q.and("u.username_key >= %s AND u.username_key < %s", p, p+"\U0010FFFF")
	}
	if !r.UpdatedSince.IsZero() {
		q.and("u.updated_at >= %s", ts(r.UpdatedSince))
	}
	users, next, err := keys.page(ctx, db, `SELECT `+userCols+from, &q, r.Request, scanUser)
	if err != nil {
		return page.Of[user.User]{}, fmt.Errorf("list users: %w", err)
	}
	if err := db.loadExternalIDs(ctx, db.r(ctx), t, users); err != nil {
		return page.Of[user.User]{}, err
	}
	return values(users, next), nil
}

// UpdateUser applies fn to the locked user row and writes it back when fn
// changed its version.
func (db *DB) UpdateUser(ctx context.Context, t tenant.ID, id user.ID, fn func(*user.User) error) (*user.User, error) {
	var out *user.User
	err := db.InTx(ctx, func(ctx context.Context) error {
		u, err := db.oneUser(ctx, db.w(ctx), `u.tenant_id = $1 AND u.id = $2`+db.forUpdate(), t, id)
		if err != nil {
			return err
		}
		before := u.Version
		if err := fn(u); err != nil {
			return err
		}
		out = u
		if u.Version == before {
			return nil
		}
		args, err := userArgs(u)
		if err != nil {
			return err
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE users SET username = $3, username_key = $4, email_key = $5, emails = $6,
			given_name = $7, family_name = $8, display_name = $9, phone = $10, locale = $11, time_zone = $12,
			attributes = $13, organization_id = $14, source = $15, status = $16, locked = $17, password_changed_at = $18,
			status_changed_at = $19, version = $20, created_at = $21, updated_at = $22
			WHERE tenant_id = $1 AND id = $2`, args...)
		if err := userConflict(err); err != nil {
			return err
		}
		if err := db.putLogins(ctx, u, true); err != nil {
			return err
		}
		if _, err := db.w(ctx).ExecContext(ctx, `DELETE FROM user_external_ids WHERE tenant_id = $1 AND user_id = $2`, t, id); err != nil {
			return err
		}
		return db.insertExternalIDs(ctx, u)
	})
	return out, err
}

// DeleteUser removes a user with its passwords, external ids, memberships,
// assignments and business roles held. Its access history stays.
func (db *DB) DeleteUser(ctx context.Context, t tenant.ID, id user.ID) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		if err := db.dropPrincipal(ctx, t, "user", string(id)); err != nil {
			return err
		}
		res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1 AND id = $2`, t, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return user.ErrNotFound
		}
		return nil
	})
}

// dropPrincipal removes the assignments and business-role holdings of a user
// or group about to be deleted: they name it by id without a foreign key.
func (db *DB) dropPrincipal(ctx context.Context, t tenant.ID, kind, id string) error {
	if _, err := db.w(ctx).ExecContext(ctx, `DELETE FROM assignments WHERE tenant_id = $1 AND principal_type = $2 AND principal_id = $3`,
		t, kind, id); err != nil {
		return err
	}
	_, err := db.w(ctx).ExecContext(ctx, `DELETE FROM business_role_holders WHERE tenant_id = $1 AND holder_type = $2 AND holder_id = $3`,
		t, kind, id)
	return err
}

// PasswordHashes returns the current hash and up to n earlier ones.
func (db *DB) PasswordHashes(ctx context.Context, t tenant.ID, id user.ID, n int) ([]string, error) {
	var cur string
	err := db.r(ctx).QueryRowContext(ctx, `SELECT hash FROM passwords WHERE tenant_id = $1 AND user_id = $2`, t, id).Scan(&cur)
	if err != nil {
		return nil, notFound(err, user.ErrNoPassword)
	}
	out := []string{cur}
	if n <= 0 {
		return out, nil
	}
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT hash FROM password_history WHERE tenant_id = $1 AND user_id = $2
		ORDER BY seq DESC LIMIT $3`, t, id, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SetPassword makes hash current, keeping up to keep earlier hashes.
func (db *DB) SetPassword(ctx context.Context, t tenant.ID, id user.ID, hash string, at time.Time, keep int) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		w := db.w(ctx)
		if keep > 0 {
			_, err := w.ExecContext(ctx, `INSERT INTO password_history (tenant_id, user_id, seq, hash)
				SELECT p.tenant_id, p.user_id, COALESCE((SELECT MAX(h.seq) FROM password_history h
					WHERE h.tenant_id = p.tenant_id AND h.user_id = p.user_id), 0) + 1, p.hash
				FROM passwords p WHERE p.tenant_id = $1 AND p.user_id = $2`, t, id)
			if err != nil {
				return fmt.Errorf("keep password history: %w", err)
			}
		}
		_, err := w.ExecContext(ctx, `DELETE FROM password_history WHERE tenant_id = $1 AND user_id = $2 AND seq NOT IN
			(SELECT seq FROM password_history WHERE tenant_id = $1 AND user_id = $2 ORDER BY seq DESC LIMIT $3)`, t, id, keep)
		if err != nil {
			return fmt.Errorf("trim password history: %w", err)
		}
		_, err = w.ExecContext(ctx, `INSERT INTO passwords (tenant_id, user_id, hash, changed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, user_id) DO UPDATE SET hash = excluded.hash, changed_at = excluded.changed_at`, t, id, hash, ts(at))
		if err = translate(err); isForeignKey(err) {
			return user.ErrNotFound
		}
		return err
	})
}

// UpgradePasswordHash swaps old for new if old is still the current hash.
func (db *DB) UpgradePasswordHash(ctx context.Context, t tenant.ID, id user.ID, old, new string) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE passwords SET hash = $4 WHERE tenant_id = $1 AND user_id = $2 AND hash = $3`,
		t, id, old, new)
	return err
}
