package store

import (
	"context"
	"time"

	"github.com/tessera-iam/tessera/internal/session"
)

const ssoRequestCols = `tenant_id, app_id, request_id, data, created_at, expires_at`

func scanSSORequest(row rowScanner) (*session.SSORequest, error) {
	var r session.SSORequest
	err := row.Scan(&r.Tenant, &r.App, &r.ID, jsonCol{&r.Data}, timeCol{&r.Created}, timeCol{&r.Expires})
	if err != nil {
		return nil, notFound(err, session.ErrTokenInvalid)
	}
	return &r, nil
}

// CreateSSORequest records a request, held under resumeHash when that is
// set. ON CONFLICT rather than a unique violation, which on PostgreSQL would
// abort the caller's transaction: a live record of the same id updates
// nothing (a replay), an expired one is replaced.
func (db *DB) CreateSSORequest(ctx context.Context, r *session.SSORequest, resumeHash string) error {
	data, err := jsonText(r.Data)
	if err != nil {
		return err
	}
	res, err := db.w(ctx).ExecContext(ctx, `INSERT INTO sso_requests (tenant_id, app_id, request_id, resume_hash, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, app_id, request_id) DO UPDATE
		SET resume_hash = excluded.resume_hash, data = excluded.data, created_at = excluded.created_at, expires_at = excluded.expires_at
		WHERE sso_requests.expires_at <= excluded.created_at`,
		r.Tenant, r.App, r.ID, nullString(resumeHash), data, ts(r.Created), ts(r.Expires))
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return session.ErrReplay
	}
	return nil
}

// SSORequestByResume reads the request held under hash.
func (db *DB) SSORequestByResume(ctx context.Context, hash string) (*session.SSORequest, error) {
	return scanSSORequest(db.r(ctx).QueryRowContext(ctx, `SELECT `+ssoRequestCols+` FROM sso_requests WHERE resume_hash = $1`, hash))
}

// TakeSSORequest stops holding the request held under hash and returns it:
// of two concurrent takes, only one gets a row back.
func (db *DB) TakeSSORequest(ctx context.Context, hash string) (*session.SSORequest, error) {
	return scanSSORequest(db.w(ctx).QueryRowContext(ctx, `UPDATE sso_requests SET resume_hash = NULL WHERE resume_hash = $1
		RETURNING `+ssoRequestCols, hash))
}

// DeleteExpiredSSORequests forgets requests past their expiry.
func (db *DB) DeleteExpiredSSORequests(ctx context.Context, now time.Time) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM sso_requests WHERE expires_at <= $1`, ts(now)))
}
