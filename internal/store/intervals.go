package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// OpenIntervals returns u's grants still held.
func (db *DB) OpenIntervals(ctx context.Context, t tenant.ID, u user.ID) ([]access.Grant, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT app_id, app_role, via_type, via_id FROM access_intervals
		WHERE tenant_id = $1 AND user_id = $2 AND valid_to IS NULL`, t, u)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.Grant
	for rows.Next() {
		g := access.Grant{User: u}
		if err := rows.Scan(&g.App, &g.Role, &g.Via.Type, &g.Via.ID); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// OpenInterval starts an interval for g at at. Reopening a grant closed in
// the same microsecond it opened revives that row instead.
func (db *DB) OpenInterval(ctx context.Context, t tenant.ID, g access.Grant, at time.Time) error {
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO access_intervals (tenant_id, app_id, user_id, app_role, via_type, via_id,
		valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
		ON CONFLICT (tenant_id, app_id, user_id, app_role, via_type, via_id, valid_from) DO UPDATE SET valid_to = NULL`,
		t, g.App, g.User, g.Role, g.Via.Type, g.Via.ID, ts(at))
	return err
}

// CloseInterval ends g's open interval at at.
func (db *DB) CloseInterval(ctx context.Context, t tenant.ID, g access.Grant, at time.Time) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE access_intervals SET valid_to = $7 WHERE tenant_id = $1 AND app_id = $2
		AND user_id = $3 AND app_role = $4 AND via_type = $5 AND via_id = $6 AND valid_to IS NULL`,
		t, g.App, g.User, g.Role, g.Via.Type, g.Via.ID, ts(at))
	return err
}

// SeatsUsed counts the users with access to app now. The DISTINCT subquery
// reads the open-interval index in order; COUNT(DISTINCT) made PostgreSQL
// sort (and spill) instead.
func (db *DB) SeatsUsed(ctx context.Context, t tenant.ID, app access.AppID) (int, error) {
	var n int
	err := db.r(ctx).QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM access_intervals
		WHERE tenant_id = $1 AND app_id = $2 AND valid_to IS NULL) s`, t, app).Scan(&n)
	return n, err
}

// covers is the condition "the interval holds at instant $n".
func covers(ph string) string {
	return `valid_from <= ` + ph + ` AND (valid_to IS NULL OR valid_to > ` + ph + `)`
}

func scanIntervals(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}, fill func(*access.Interval) []any) ([]access.Interval, error) {
	var out []access.Interval
	for rows.Next() {
		var iv access.Interval
		if err := rows.Scan(fill(&iv)...); err != nil {
			return nil, err
		}
		out = append(out, iv)
	}
	return out, rows.Err()
}

// coversByKey is covers for a walk that must stay on the primary key
// (tenant, app, user, ...): on SQLite the unary + keeps the planner from
// trading that order for a time index, which at millions of rows turned a
// 50-user page into a sort of a whole application's history. PostgreSQL
// plans it well as it is (and has no unary + for timestamptz).
func (db *DB) coversByKey(ph string) string {
	if db.dialect == SQLite {
		return `+valid_from <= ` + ph + ` AND (+valid_to IS NULL OR +valid_to > ` + ph + `)`
	}
	return covers(ph)
}

// accessSpan tells whether anyone could have held app at at: false when at
// is before its first grant, or when nothing is open and at is at or after
// its last end. Three index look-ups, so empty answers never walk history.
func (db *DB) accessSpan(ctx context.Context, t tenant.ID, app access.AppID, at time.Time) (bool, error) {
	var first, last time.Time
	var open bool
	err := db.r(ctx).QueryRowContext(ctx, `SELECT
		(SELECT MIN(valid_from) FROM access_intervals WHERE tenant_id = $1 AND app_id = $2),
		(SELECT MAX(valid_to) FROM access_intervals WHERE tenant_id = $1 AND app_id = $2 AND valid_to IS NOT NULL),
		EXISTS (SELECT 1 FROM access_intervals WHERE tenant_id = $1 AND app_id = $2 AND valid_to IS NULL)`, t, app).
		Scan(timeCol{&first}, timeCol{&last}, &open)
	if err != nil {
		return false, err
	}
	switch {
	case first.IsZero() || at.Before(first):
		return false, nil
	case !open && !at.Before(last):
		return false, nil
	}
	return true, nil
}

// AccountsAt pages the users with access to an application at q.At.
func (db *DB) AccountsAt(ctx context.Context, t tenant.ID, r access.AccountQuery) (page.Of[access.Account], error) {
	var out page.Of[access.Account]
	if held, err := db.accessSpan(ctx, t, r.App, r.At); err != nil || !held {
		return out, err
	}
	var q query
	at := q.arg(ts(r.At))
	q.and("tenant_id = %s AND app_id = %s", t, r.App)
	q.where = append(q.where, db.coversByKey(at))
	c, err := optCursor(r.Cursor, r.Sort)
	if err != nil {
		return out, err
	}
	order := q.keyset("", "user_id", c, r.Desc)
	ids, err := db.userIDs(ctx, `SELECT DISTINCT user_id FROM access_intervals`+q.whereClause()+order+` LIMIT `+q.arg(r.Limit+1), q.args...)
	if err != nil {
		return out, err
	}
	if len(ids) > r.Limit {
		ids = ids[:r.Limit]
		out.Next = cursor{Sort: r.Sort, ID: string(ids[len(ids)-1])}.encode()
	}
	if len(ids) == 0 {
		return out, nil
	}
	var d query
	dat := d.arg(ts(r.At))
	d.and("tenant_id = %s AND app_id = %s", t, r.App)
	d.where = append(d.where, db.coversByKey(dat))
	in := make([]string, len(ids))
	for i, id := range ids {
		in[i] = d.arg(id)
	}
	d.where = append(d.where, "user_id IN ("+strings.Join(in, ", ")+")")
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT user_id, app_role, via_type, via_id, valid_from, valid_to FROM access_intervals`+
		d.whereClause()+` ORDER BY user_id, app_role, via_type, via_id`, d.args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	ivs, err := scanIntervals(rows, func(iv *access.Interval) []any {
		iv.App = r.App
		return []any{&iv.User, &iv.Role, &iv.Via.Type, &iv.Via.ID, timeCol{&iv.From}, timeCol{&iv.To}}
	})
	if err != nil {
		return out, err
	}
	byUser := map[user.ID][]access.Interval{}
	for _, iv := range ivs {
		byUser[iv.User] = append(byUser[iv.User], iv)
	}
	for _, id := range ids {
		out.Items = append(out.Items, access.Account{User: id, Grants: byUser[id]})
	}
	return out, nil
}

// PermissionsAt lists u's grants held at at.
func (db *DB) PermissionsAt(ctx context.Context, t tenant.ID, u user.ID, at time.Time) ([]access.Interval, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT app_id, app_role, via_type, via_id, valid_from, valid_to FROM access_intervals
		WHERE tenant_id = $1 AND user_id = $2 AND `+covers("$3")+` ORDER BY app_id, app_role, via_type, via_id`, t, u, ts(at))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanIntervals(rows, func(iv *access.Interval) []any {
		iv.User = u
		return []any{&iv.App, &iv.Role, &iv.Via.Type, &iv.Via.ID, timeCol{&iv.From}, timeCol{&iv.To}}
	})
}

// changeKey is the keyset position in an access-change listing.
type changeKey struct {
	At      string `json:"a"`
	Kind    string `json:"k"`
	User    string `json:"u"`
	Role    string `json:"r"`
	ViaType string `json:"t"`
	ViaID   string `json:"v"`
}

// AccessChanges pages the grants that began or ended for an application in
// [Since, Until), by time.
func (db *DB) AccessChanges(ctx context.Context, t tenant.ID, r access.ChangeQuery) (page.Of[access.Change], error) {
	var out page.Of[access.Change]
	var q query
	tp, app, since, until := q.arg(t), q.arg(r.App), q.arg(ts(r.Since)), q.arg(ts(r.Until))
	after := ""
	if r.Cursor != "" {
		var k changeKey
		b, err := base64.RawURLEncoding.DecodeString(r.Cursor)
		if err != nil || json.Unmarshal(b, &k) != nil || k.At == "" {
			return out, errBadCursor
		}
		op := ">"
		if r.Desc {
			op = "<"
		}
		after = ` WHERE (at, kind, user_id, app_role, via_type, via_id) ` + op + ` (` + q.arg(k.At) + `, ` + q.arg(k.Kind) + `, ` +
			q.arg(k.User) + `, ` + q.arg(k.Role) + `, ` + q.arg(k.ViaType) + `, ` + q.arg(k.ViaID) + `)`
	}
	dir := ""
	if r.Desc {
		dir = " DESC"
	}
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT at, kind, user_id, app_role, via_type, via_id FROM (
		SELECT valid_from AS at, 'granted' AS kind, user_id, app_role, via_type, via_id FROM access_intervals
			WHERE tenant_id = `+tp+` AND app_id = `+app+` AND valid_from >= `+since+` AND valid_from < `+until+`
		UNION ALL
		SELECT valid_to, 'revoked', user_id, app_role, via_type, via_id FROM access_intervals
			WHERE tenant_id = `+tp+` AND app_id = `+app+` AND valid_to >= `+since+` AND valid_to < `+until+`
		) c`+after+` ORDER BY at`+dir+`, kind`+dir+`, user_id`+dir+`, app_role`+dir+`, via_type`+dir+`, via_id`+dir+
		` LIMIT `+q.arg(r.Limit+1), q.args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	var keys []changeKey
	for rows.Next() {
		var k changeKey
		var at time.Time
		if err := rows.Scan(timeCol{&at}, &k.Kind, &k.User, &k.Role, &k.ViaType, &k.ViaID); err != nil {
			return out, err
		}
		k.At = at.Format(timeLayout)
		keys = append(keys, k)
		out.Items = append(out.Items, access.Change{At: at, Granted: k.Kind == "granted", Grant: access.Grant{
			User: user.ID(k.User), App: r.App, Role: k.Role, Via: access.Via{Type: k.ViaType, ID: k.ViaID}}})
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	if len(out.Items) > r.Limit {
		out.Items = out.Items[:r.Limit]
		b, _ := json.Marshal(keys[r.Limit-1])
		out.Next = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, nil
}
