package store

import (
	"context"
	"time"

	"github.com/tessera-iam/tessera/internal/idempotency"
)

// ReserveIdempotencyKey inserts r or returns the live record with its key.
func (db *DB) ReserveIdempotencyKey(ctx context.Context, r *idempotency.Record) (*idempotency.Record, error) {
	var existing *idempotency.Record
	err := db.InTx(ctx, func(ctx context.Context) error {
		w := db.w(ctx)
		// An expired record is gone as far as callers are concerned.
		if _, err := w.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND key = $3
			AND created_at < $4`, r.Tenant, r.Principal, r.Key, ts(r.Created.Add(-idempotency.TTL))); err != nil {
			return err
		}
		res, err := w.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, principal, key, fingerprint, status, headers,
			body, created_at) VALUES ($1, $2, $3, $4, 0, '', '', $5) ON CONFLICT (tenant_id, principal, key) DO NOTHING`,
			r.Tenant, r.Principal, r.Key, r.Fingerprint, ts(r.Created))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		e := idempotency.Record{Tenant: r.Tenant, Principal: r.Principal, Key: r.Key}
		var body string
		err = w.QueryRowContext(ctx, `SELECT fingerprint, status, headers, body, created_at FROM idempotency_keys
			WHERE tenant_id = $1 AND principal = $2 AND key = $3`, r.Tenant, r.Principal, r.Key).
			Scan(&e.Fingerprint, &e.Status, &e.Header, &body, timeCol{&e.Created})
		e.Body = []byte(body)
		existing = &e
		return err
	})
	return existing, err
}

// CompleteIdempotencyKey saves the answer of a reserved key.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, r *idempotency.Record) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE idempotency_keys SET status = $4, headers = $5, body = $6
		WHERE tenant_id = $1 AND principal = $2 AND key = $3`, r.Tenant, r.Principal, r.Key, r.Status, r.Header, string(r.Body))
	return err
}

// ReleaseIdempotencyKey forgets a reserved key.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, tenant, principal, key string) error {
	_, err := db.w(ctx).ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND key = $3`,
		tenant, principal, key)
	return err
}

// PurgeIdempotencyKeys deletes records created before before.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w(ctx).ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, ts(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
