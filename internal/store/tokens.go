package store

import (
	"context"
	"time"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/tenant"
)

const tokenCols = `tenant_id, id, name, role, COALESCE(organization_id, ''), digest, created_at, expires_at, revoked_at, last_used_at`

func scanToken(row rowScanner) (*apitoken.Token, error) {
	var t apitoken.Token
	err := row.Scan(&t.Tenant, &t.ID, &t.Name, &t.Role, &t.Org, &t.Digest, timeCol{&t.Created}, timeCol{&t.Expires},
		timeCol{&t.Revoked}, timeCol{&t.LastUsed})
	if err != nil {
		return nil, notFound(err, apitoken.ErrNotFound)
	}
	return &t, nil
}

// CreateToken inserts a token.
func (db *DB) CreateToken(ctx context.Context, t *apitoken.Token) error {
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO api_tokens (tenant_id, id, name, role, organization_id, digest, created_at, expires_at, revoked_at,
		last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		t.Tenant, t.ID, t.Name, t.Role, nullString(string(t.Org)), t.Digest, ts(t.Created), ts(t.Expires), ts(t.Revoked), ts(t.LastUsed))
	if err = translate(err); isForeignKey(err) {
		return tenant.ErrOrgNotFound
	}
	return err
}

// TokenByDigest finds a token by the digest of its secret, in any tenant.
func (db *DB) TokenByDigest(ctx context.Context, digest string) (*apitoken.Token, error) {
	return scanToken(db.r(ctx).QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE digest = $1`, digest))
}

// ListTokens returns a tenant's tokens, newest first.
func (db *DB) ListTokens(ctx context.Context, t tenant.ID) ([]apitoken.Token, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant_id = $1 ORDER BY id DESC`, t)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apitoken.Token
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *tok)
	}
	return out, rows.Err()
}

// RevokeToken stamps the revocation time unless the token is already revoked.
func (db *DB) RevokeToken(ctx context.Context, t tenant.ID, id apitoken.ID, at time.Time) (*apitoken.Token, bool, error) {
	res, err := db.w(ctx).ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`,
		t, id, ts(at))
	if err != nil {
		return nil, false, err
	}
	n, _ := res.RowsAffected()
	tok, err := scanToken(db.w(ctx).QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant_id = $1 AND id = $2`, t, id))
	return tok, n > 0, err
}

// TouchToken records a use of the token.
func (db *DB) TouchToken(ctx context.Context, t tenant.ID, id apitoken.ID, at time.Time) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2`, t, id, ts(at))
	return err
}
