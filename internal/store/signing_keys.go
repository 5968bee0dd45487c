package store

import (
	"context"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/tenant"
)

const signingKeyCols = `tenant_id, id, purpose, algorithm, state, certificate, sealed_key, created_at, activated_at, retired_at`

func scanSigningKey(row rowScanner) (*keys.SigningKey, error) {
	var k keys.SigningKey
	err := row.Scan(&k.Tenant, &k.ID, &k.Purpose, &k.Algorithm, &k.State, &k.Certificate, &k.Sealed,
		timeCol{&k.Created}, timeCol{&k.Activated}, timeCol{&k.Retired})
	if err != nil {
		return nil, notFound(err, keys.ErrSigningKeyNotFound)
	}
	return &k, nil
}

func (db *DB) signingKeys(ctx context.Context, q querier, stmt string, args ...any) ([]keys.SigningKey, error) {
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keys.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// SigningKeys returns the tenant's active and next keys for purpose and
// algorithm, and those retired after retiredAfter.
func (db *DB) SigningKeys(ctx context.Context, t tenant.ID, purpose, algorithm string, retiredAfter time.Time) ([]keys.SigningKey, error) {
	return db.signingKeys(ctx, db.r(ctx), `SELECT `+signingKeyCols+` FROM signing_keys
		WHERE tenant_id = $1 AND purpose = $2 AND algorithm = $3 AND (state IN ('active', 'next') OR retired_at > $4)
		ORDER BY id`, t, purpose, algorithm, ts(retiredAfter))
}

// CreateSigningKey inserts a key. An active or next key the partial unique
// index already has is not inserted: ON CONFLICT DO NOTHING rather than a
// unique violation, which on PostgreSQL would abort the caller's transaction.
func (db *DB) CreateSigningKey(ctx context.Context, k *keys.SigningKey) error {
	res, err := db.w(ctx).ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, purpose, algorithm, state) WHERE state IN ('active', 'next') DO NOTHING`,
		k.Tenant, k.ID, k.Purpose, k.Algorithm, k.State, k.Certificate, k.Sealed, ts(k.Created), ts(k.Activated), ts(k.Retired))
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return keys.ErrSigningKeyTaken
	}
	return nil
}

// LockSigningKeys returns the active and next keys, locked for the
// transaction. On PostgreSQL rotations of a tenant's keys first queue on the
// tenant's row: locking the key rows alone is not enough at READ COMMITTED,
// where a statement that waited for a concurrent rotation re-checks the rows
// it waited for but cannot see the next key that rotation inserted. Once the
// tenant row is held, the next statement sees the last rotation's result and
// no other rotation runs. (Foreign key checks take a KEY SHARE lock on the
// tenant row, which NO KEY UPDATE does not block.)
func (db *DB) LockSigningKeys(ctx context.Context, t tenant.ID, purpose, algorithm string) ([]keys.SigningKey, error) {
	if db.dialect == Postgres {
		if _, err := db.w(ctx).ExecContext(ctx, `SELECT id FROM tenants WHERE id = $1`+db.forUpdate(), t); err != nil {
			return nil, err
		}
	}
	return db.signingKeys(ctx, db.w(ctx), `SELECT `+signingKeyCols+` FROM signing_keys
		WHERE tenant_id = $1 AND purpose = $2 AND algorithm = $3 AND state IN ('active', 'next')
		ORDER BY id`+db.forUpdate(), t, purpose, algorithm)
}

// UpdateSigningKey applies fn to the locked key and stores its state and
// times; the key material never changes.
func (db *DB) UpdateSigningKey(ctx context.Context, t tenant.ID, id keys.SigningKeyID, fn func(*keys.SigningKey) error) (*keys.SigningKey, error) {
	var out *keys.SigningKey
	err := db.InTx(ctx, func(ctx context.Context) error {
		k, err := scanSigningKey(db.w(ctx).QueryRowContext(ctx, `SELECT `+signingKeyCols+` FROM signing_keys
			WHERE tenant_id = $1 AND id = $2`+db.forUpdate(), t, id))
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		_, err = db.w(ctx).ExecContext(ctx, `UPDATE signing_keys SET state = $3, activated_at = $4, retired_at = $5
			WHERE tenant_id = $1 AND id = $2`, t, id, k.State, ts(k.Activated), ts(k.Retired))
		if err != nil {
			return translate(err)
		}
		out = k
		return nil
	})
	return out, err
}
