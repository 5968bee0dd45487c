package store

import (
	"context"
	"time"

	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// AddSSOParticipant records that an application took part in a session; a
// later sign-in to the same application in the same session replaces what
// it knows the user by.
func (db *DB) AddSSOParticipant(ctx context.Context, p *session.SSOParticipant) error {
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO sso_participants (tenant_id, session_id, app_id, name_id, name_id_format,
		session_index, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, session_id, app_id) DO UPDATE
		SET name_id = excluded.name_id, name_id_format = excluded.name_id_format, session_index = excluded.session_index`,
		p.Tenant, p.Session, p.App, p.NameID, p.NameIDFormat, p.SessionIndex, ts(p.Created))
	return translate(err)
}

// SSOParticipants lists the applications that took part in a session, in
// the order they joined.
func (db *DB) SSOParticipants(ctx context.Context, t tenant.ID, sid session.ID) ([]session.SSOParticipant, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT tenant_id, session_id, app_id, name_id, name_id_format, session_index, created_at
		FROM sso_participants WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, app_id`, t, sid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.SSOParticipant
	for rows.Next() {
		var p session.SSOParticipant
		if err := rows.Scan(&p.Tenant, &p.Session, &p.App, &p.NameID, &p.NameIDFormat, &p.SessionIndex, timeCol{&p.Created}); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteSSOParticipants forgets the participants of a session.
func (db *DB) DeleteSSOParticipants(ctx context.Context, t tenant.ID, sid session.ID) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM sso_participants WHERE tenant_id = $1 AND session_id = $2`, t, sid))
}

// DeleteStaleSSOParticipants forgets participants older than before whose
// session is gone: a logout that would still propagate to them has had
// its time.
func (db *DB) DeleteStaleSSOParticipants(ctx context.Context, before time.Time) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM sso_participants WHERE created_at <= $1 AND NOT EXISTS (
		SELECT 1 FROM sessions s WHERE s.tenant_id = sso_participants.tenant_id AND s.id = sso_participants.session_id)`, ts(before)))
}
