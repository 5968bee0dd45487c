package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const sessionCols = `tenant_id, id, user_id, amr, client_ip, user_agent, created_at, mfa_at, last_seen_at, idle_until, expires_at`

func scanSession(row rowScanner) (*session.Session, error) {
	var s session.Session
	err := row.Scan(&s.Tenant, &s.ID, &s.User, jsonCol{&s.AMR}, &s.ClientIP, &s.UserAgent, timeCol{&s.Created}, timeCol{&s.MFAAt},
		timeCol{&s.LastSeen}, timeCol{&s.IdleUntil}, timeCol{&s.Expires})
	if err != nil {
		return nil, notFound(err, session.ErrNotFound)
	}
	return &s, nil
}

// CreateSession inserts a session under the digest of its token.
func (db *DB) CreateSession(ctx context.Context, s *session.Session, tokenHash string) error {
	amr, err := jsonText(s.AMR)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO sessions (tenant_id, id, token_hash, user_id, amr, client_ip, user_agent,
		created_at, mfa_at, last_seen_at, idle_until, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		s.Tenant, s.ID, tokenHash, s.User, amr, s.ClientIP, s.UserAgent, ts(s.Created), ts(s.MFAAt), ts(s.LastSeen),
		ts(s.IdleUntil), ts(s.Expires))
	return translate(err)
}

// SessionByToken finds a session by its token's digest, in any tenant.
func (db *DB) SessionByToken(ctx context.Context, tokenHash string) (*session.Session, error) {
	return scanSession(db.r(ctx).QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, tokenHash))
}

// TouchSession records activity, extending the idle timeout.
func (db *DB) TouchSession(ctx context.Context, t tenant.ID, id session.ID, lastSeen, idleUntil time.Time) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE sessions SET last_seen_at = $3, idle_until = $4 WHERE tenant_id = $1 AND id = $2`,
		t, id, ts(lastSeen), ts(idleUntil))
	return err
}

// ListSessions returns a user's sessions, newest first.
func (db *DB) ListSessions(ctx context.Context, t tenant.ID, u user.ID) ([]session.Session, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE tenant_id = $1 AND user_id = $2
		ORDER BY id DESC`, t, u)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// DeleteSession ends a session and returns it.
func (db *DB) DeleteSession(ctx context.Context, t tenant.ID, id session.ID) (*session.Session, error) {
	return scanSession(db.w(ctx).QueryRowContext(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2 RETURNING `+sessionCols, t, id))
}

// DeleteUserSessions ends every session of u but keep.
func (db *DB) DeleteUserSessions(ctx context.Context, t tenant.ID, u user.ID, keep session.ID) ([]session.ID, error) {
	rows, err := db.w(ctx).QueryContext(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND id <> $3 RETURNING id`, t, u, keep)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []session.ID
	for rows.Next() {
		var id session.ID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DeleteExpiredSessions removes sessions past either timeout.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR idle_until <= $1`, ts(now)))
}

const signInTokenCols = `tenant_id, purpose, user_id, data, created_at, expires_at`

func scanSignInToken(row rowScanner) (*session.Token, error) {
	var t session.Token
	err := row.Scan(&t.Tenant, &t.Purpose, &t.User, jsonCol{&t.Data}, timeCol{&t.Created}, timeCol{&t.Expires})
	if err != nil {
		return nil, notFound(err, session.ErrTokenInvalid)
	}
	return &t, nil
}

// CreateSignInToken stores a single-use token under its digest.
func (db *DB) CreateSignInToken(ctx context.Context, tok *session.Token, hash string) error {
	data, err := jsonText(tok.Data)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO sign_in_tokens (token_hash, tenant_id, purpose, user_id, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, hash, tok.Tenant, tok.Purpose, tok.User, data, ts(tok.Created), ts(tok.Expires))
	return translate(err)
}

// SignInToken reads a token without using it up.
func (db *DB) SignInToken(ctx context.Context, hash string) (*session.Token, error) {
	return scanSignInToken(db.r(ctx).QueryRowContext(ctx, `SELECT `+signInTokenCols+` FROM sign_in_tokens WHERE token_hash = $1`, hash))
}

// ConsumeSignInToken deletes a token and returns it: of two concurrent uses,
// only one gets a row back.
func (db *DB) ConsumeSignInToken(ctx context.Context, hash string) (*session.Token, error) {
	return scanSignInToken(db.w(ctx).QueryRowContext(ctx, `DELETE FROM sign_in_tokens WHERE token_hash = $1 RETURNING `+signInTokenCols, hash))
}

// DeleteUserSignInTokens drops u's tokens of a purpose.
func (db *DB) DeleteUserSignInTokens(ctx context.Context, t tenant.ID, u user.ID, purpose string) error {
	_, err := db.w(ctx).ExecContext(ctx, `DELETE FROM sign_in_tokens WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3`, t, u, purpose)
	return err
}

// DeleteExpiredSignInTokens removes tokens past their expiry.
func (db *DB) DeleteExpiredSignInTokens(ctx context.Context, now time.Time) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM sign_in_tokens WHERE expires_at <= $1`, ts(now)))
}

// Failures returns the failed attempts in a row against subject.
func (db *DB) Failures(ctx context.Context, t tenant.ID, subject string) (int, time.Time, error) {
	var n int
	var last time.Time
	err := db.r(ctx).QueryRowContext(ctx, `SELECT failures, last_failed FROM sign_in_failures WHERE tenant_id = $1 AND subject = $2`,
		t, subject).Scan(&n, timeCol{&last})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, last, err
}

// AddFailure counts one more failure against subject.
func (db *DB) AddFailure(ctx context.Context, t tenant.ID, subject string, at time.Time) (int, error) {
	var n int
	err := db.w(ctx).QueryRowContext(ctx, `INSERT INTO sign_in_failures (tenant_id, subject, failures, last_failed) VALUES ($1, $2, 1, $3)
		ON CONFLICT (tenant_id, subject) DO UPDATE SET failures = sign_in_failures.failures + 1, last_failed = excluded.last_failed
		RETURNING failures`, t, subject, ts(at)).Scan(&n)
	return n, err
}

// ClearFailures forgets subject's failures.
func (db *DB) ClearFailures(ctx context.Context, t tenant.ID, subject string) error {
	_, err := db.w(ctx).ExecContext(ctx, `DELETE FROM sign_in_failures WHERE tenant_id = $1 AND subject = $2`, t, subject)
	return err
}

// DeleteStaleFailures forgets runs of failures that ended before before.
func (db *DB) DeleteStaleFailures(ctx context.Context, before time.Time) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM sign_in_failures WHERE last_failed < $1`, ts(before)))
}

const factorCols = `tenant_id, id, user_id, kind, name, secret, last_step, COALESCE(credential_id, ''), COALESCE(credential, ''),
	created_at, last_used_at`

func scanFactor(row rowScanner) (*session.Factor, error) {
	var f session.Factor
	var cred string
	err := row.Scan(&f.Tenant, &f.ID, &f.User, &f.Kind, &f.Name, &f.Secret, &f.LastStep, &f.CredentialID, &cred,
		timeCol{&f.Created}, timeCol{&f.LastUsed})
	if err != nil {
		return nil, notFound(err, session.ErrFactorNotFound)
	}
	if cred != "" {
		f.Credential = []byte(cred)
	}
	return &f, nil
}

// CreateFactor inserts a second factor.
func (db *DB) CreateFactor(ctx context.Context, f *session.Factor) error {
	var cred any
	if f.Credential != nil {
		cred = string(f.Credential)
	}
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO mfa_factors (tenant_id, id, user_id, kind, name, secret, last_step, credential_id,
		credential, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		f.Tenant, f.ID, f.User, f.Kind, f.Name, f.Secret, f.LastStep, nullString(f.CredentialID), cred, ts(f.Created), ts(f.LastUsed))
	if err = translate(err); violates(err, "mfa_factors", "credential") {
		return session.ErrCredentialTaken
	}
	return err
}

// Factors lists a user's factors, oldest first.
func (db *DB) Factors(ctx context.Context, t tenant.ID, u user.ID) ([]session.Factor, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+factorCols+` FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2 ORDER BY id`, t, u)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.Factor
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *f)
	}
	return out, rows.Err()
}

// FactorByCredential finds a WebAuthn factor by its credential id.
func (db *DB) FactorByCredential(ctx context.Context, t tenant.ID, credentialID string) (*session.Factor, error) {
	return scanFactor(db.r(ctx).QueryRowContext(ctx, `SELECT `+factorCols+` FROM mfa_factors WHERE tenant_id = $1 AND credential_id = $2`,
		t, credentialID))
}

// UseTOTPStep moves the factor's last accepted step forward, atomically, so
// that one code cannot be accepted twice even by concurrent requests.
func (db *DB) UseTOTPStep(ctx context.Context, t tenant.ID, id session.FactorID, step int64, at time.Time) (bool, error) {
	n, err := affected(db.w(ctx).ExecContext(ctx, `UPDATE mfa_factors SET last_step = $3, last_used_at = $4
		WHERE tenant_id = $1 AND id = $2 AND last_step < $3`, t, id, step, ts(at)))
	return n == 1, err
}

// UpdateCredential stores a WebAuthn credential's new record (its counter).
func (db *DB) UpdateCredential(ctx context.Context, t tenant.ID, id session.FactorID, credential []byte, at time.Time) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE mfa_factors SET credential = $3, last_used_at = $4 WHERE tenant_id = $1 AND id = $2`,
		t, id, string(credential), ts(at))
	return err
}

// DeleteFactor removes one of u's factors.
func (db *DB) DeleteFactor(ctx context.Context, t tenant.ID, u user.ID, id session.FactorID) (bool, error) {
	n, err := affected(db.w(ctx).ExecContext(ctx, `DELETE FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2 AND id = $3`, t, u, id))
	return n == 1, err
}

// DeleteFactors removes all of u's factors.
func (db *DB) DeleteFactors(ctx context.Context, t tenant.ID, u user.ID) (int, error) {
	return affected(db.w(ctx).ExecContext(ctx, `DELETE FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2`, t, u))
}

// ReplaceRecoveryCodes swaps u's recovery codes for hashes (none clears them).
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, t tenant.ID, u user.ID, hashes []string, at time.Time) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		if _, err := db.w(ctx).ExecContext(ctx, `DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2`, t, u); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := db.w(ctx).ExecContext(ctx, `INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at)
				VALUES ($1, $2, $3, $4)`, t, u, h, ts(at)); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// UseRecoveryCode deletes a code; false when u has no such code.
func (db *DB) UseRecoveryCode(ctx context.Context, t tenant.ID, u user.ID, hash string) (bool, error) {
	n, err := affected(db.w(ctx).ExecContext(ctx, `DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3`,
		t, u, hash))
	return n == 1, err
}

// RecoveryCodesLeft counts u's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, t tenant.ID, u user.ID) (int, error) {
	var n int
	err := db.r(ctx).QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2`, t, u).Scan(&n)
	return n, err
}

// affected returns how many rows an ExecContext changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
