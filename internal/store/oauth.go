package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/grant"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

const oauthRequestCols = `tenant_id, id, app_id, browser_hash, data, code_used_at, code_expires_at, created_at, expires_at`

func scanOAuthRequest(row rowScanner) (*grant.Request, error) {
	var r grant.Request
	err := row.Scan(&r.Tenant, &r.ID, &r.App, &r.Browser, jsonCol{&r.Params}, timeCol{&r.CodeUsed}, timeCol{&r.CodeExpires},
		timeCol{&r.Created}, timeCol{&r.Expires})
	if err != nil {
		return nil, notFound(err, grant.ErrRequestNotFound)
	}
	return &r, nil
}

// CreateOAuthRequest inserts an authorization request.
func (db *DB) CreateOAuthRequest(ctx context.Context, r *grant.Request) error {
	data, err := jsonText(r.Params)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO oauth_requests (tenant_id, id, app_id, browser_hash, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.Tenant, r.ID, r.App, r.Browser, data, ts(r.Created), ts(r.Expires))
	return translate(err)
}

// OAuthRequest reads a request.
func (db *DB) OAuthRequest(ctx context.Context, t tenant.ID, id grant.RequestID) (*grant.Request, error) {
	return scanOAuthRequest(db.r(ctx).QueryRowContext(ctx, `SELECT `+oauthRequestCols+` FROM oauth_requests
		WHERE tenant_id = $1 AND id = $2`, t, id))
}

// UpdateOAuthRequest applies fn to the locked request and stores its
// parameters.
func (db *DB) UpdateOAuthRequest(ctx context.Context, t tenant.ID, id grant.RequestID, fn func(*grant.Request) error) (*grant.Request, error) {
	var out *grant.Request
	err := db.InTx(ctx, func(ctx context.Context) error {
		r, err := scanOAuthRequest(db.w(ctx).QueryRowContext(ctx, `SELECT `+oauthRequestCols+` FROM oauth_requests
			WHERE tenant_id = $1 AND id = $2`+db.forUpdate(), t, id))
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		data, err := jsonText(r.Params)
		if err != nil {
			return err
		}
		if _, err := db.w(ctx).ExecContext(ctx, `UPDATE oauth_requests SET data = $3 WHERE tenant_id = $1 AND id = $2`, t, id, data); err != nil {
			return translate(err)
		}
		out = r
		return nil
	})
	return out, err
}

// SetOAuthCode records a request's code digest, once.
func (db *DB) SetOAuthCode(ctx context.Context, t tenant.ID, id grant.RequestID, hash string, expires time.Time) error {
	n, err := affected(db.w(ctx).ExecContext(ctx, `UPDATE oauth_requests SET code_hash = $3, code_expires_at = $4
		WHERE tenant_id = $1 AND id = $2 AND code_hash IS NULL`, t, id, hash, ts(expires)))
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return grant.ErrCodeIssued
	}
	return nil
}

// RedeemOAuthCode marks a live, unused code used and returns its request.
func (db *DB) RedeemOAuthCode(ctx context.Context, t tenant.ID, hash string, now time.Time) (*grant.Request, error) {
	r, err := scanOAuthRequest(db.w(ctx).QueryRowContext(ctx, `UPDATE oauth_requests SET code_used_at = $3
		WHERE tenant_id = $1 AND code_hash = $2 AND code_used_at IS NULL AND code_expires_at > $3
		RETURNING `+oauthRequestCols, t, hash, ts(now)))
	if errors.Is(err, grant.ErrRequestNotFound) {
		return nil, grant.ErrCodeInvalid
	}
	return r, err
}

// OAuthRequestByCode reads the request of a code.
func (db *DB) OAuthRequestByCode(ctx context.Context, t tenant.ID, hash string) (*grant.Request, error) {
	return scanOAuthRequest(db.r(ctx).QueryRowContext(ctx, `SELECT `+oauthRequestCols+` FROM oauth_requests
		WHERE tenant_id = $1 AND code_hash = $2`, t, hash))
}

// grantData is the JSON column of a grant.
type grantData struct {
	Issuer   string    `json:"issuer,omitempty"`
	Scopes   []string  `json:"scopes"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
}

const grantCols = `tenant_id, id, app_id, client_id, user_id, session_id, request_id, data, created_at, expires_at, revoked_at, revoke_reason`

func scanGrant(row rowScanner) (*grant.Grant, error) {
	var g grant.Grant
	var u, ses, req, reason sql.NullString
	var d grantData
	err := row.Scan(&g.Tenant, &g.ID, &g.App, &g.ClientID, &u, &ses, &req, jsonCol{&d}, timeCol{&g.Created}, timeCol{&g.Expires},
		timeCol{&g.Revoked}, &reason)
	if err != nil {
		return nil, notFound(err, grant.ErrTokenInvalid)
	}
	g.User, g.Session, g.Request, g.Reason = user.ID(u.String), session.ID(ses.String), grant.RequestID(req.String), reason.String
	g.Issuer, g.Scopes, g.AuthTime, g.AMR = d.Issuer, d.Scopes, d.AuthTime, d.AMR
	return &g, nil
}

// CreateGrant inserts a grant.
func (db *DB) CreateGrant(ctx context.Context, g *grant.Grant) error {
	data, err := jsonText(grantData{Issuer: g.Issuer, Scopes: g.Scopes, AuthTime: g.AuthTime, AMR: g.AMR})
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO oauth_grants
		(tenant_id, id, app_id, client_id, user_id, session_id, request_id, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		g.Tenant, g.ID, g.App, g.ClientID, nullString(string(g.User)), nullString(string(g.Session)), nullString(string(g.Request)),
		data, ts(g.Created), ts(g.Expires))
	return translate(err)
}

// Grant reads a grant.
func (db *DB) Grant(ctx context.Context, t tenant.ID, id grant.ID) (*grant.Grant, error) {
	return scanGrant(db.r(ctx).QueryRowContext(ctx, `SELECT `+grantCols+` FROM oauth_grants WHERE tenant_id = $1 AND id = $2`, t, id))
}

// SessionLive reports whether a session exists and has not reached its
// absolute end, holding its row on PostgreSQL (see grant.Store). Its idle
// timeout is not read here: activity is written to the row late.
func (db *DB) SessionLive(ctx context.Context, t tenant.ID, sid session.ID, now time.Time) (bool, error) {
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR SHARE"
	}
	var one int
	err := db.w(ctx).QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE tenant_id = $1 AND id = $2 AND expires_at > $3`+lock,
		t, sid, ts(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// SessionGrants lists the live grants of a session.
func (db *DB) SessionGrants(ctx context.Context, t tenant.ID, sid session.ID) ([]grant.Grant, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+grantCols+` FROM oauth_grants
		WHERE tenant_id = $1 AND session_id = $2 AND revoked_at IS NULL ORDER BY id`, t, sid)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanGrant)
}

// RevokeGrants revokes the live grants that match, and their tokens.
func (db *DB) RevokeGrants(ctx context.Context, t tenant.ID, m grant.GrantMatch, now time.Time, reason string) ([]grant.Grant, error) {
	var out []grant.Grant
	err := db.InTx(ctx, func(ctx context.Context) error {
		q := &query{}
		q.and("tenant_id = %s", t)
		q.and("revoked_at IS NULL")
		for col, v := range map[string]string{"id": string(m.ID), "request_id": string(m.Request), "session_id": string(m.Session),
			"user_id": string(m.User), "app_id": string(m.App)} {
			if v != "" {
				q.and(col+" = %s", v)
			}
		}
		if len(q.args) == 1 {
			return errors.New("store: RevokeGrants needs a match")
		}
		rows, err := db.w(ctx).QueryContext(ctx, `SELECT `+grantCols+` FROM oauth_grants`+q.whereClause()+` ORDER BY id`+db.forUpdate(), q.args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanGrant)
		if err != nil {
			return err
		}
		for i := range out {
			g := &out[i]
			g.Revoked, g.Reason = now, reason
			if _, err := db.w(ctx).ExecContext(ctx, `UPDATE oauth_grants SET revoked_at = $3, revoke_reason = $4 WHERE tenant_id = $1 AND id = $2`,
				t, g.ID, ts(now), reason); err != nil {
				return err
			}
			if _, err := db.w(ctx).ExecContext(ctx, `UPDATE oauth_tokens SET revoked_at = $3
				WHERE tenant_id = $1 AND grant_id = $2 AND revoked_at IS NULL`, t, g.ID, ts(now)); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, scan func(rowScanner) (*T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

const oauthTokenCols = `hash, tenant_id, kind, grant_id, app_id, client_id, user_id, scopes, created_at, expires_at, used_at, revoked_at`

func scanOAuthToken(row rowScanner) (*grant.Token, error) {
	var tok grant.Token
	var g, u sql.NullString
	err := row.Scan(&tok.Hash, &tok.Tenant, &tok.Kind, &g, &tok.App, &tok.ClientID, &u, jsonCol{&tok.Scopes},
		timeCol{&tok.Created}, timeCol{&tok.Expires}, timeCol{&tok.Used}, timeCol{&tok.Revoked})
	if err != nil {
		return nil, notFound(err, grant.ErrTokenInvalid)
	}
	tok.Grant, tok.User = grant.ID(g.String), user.ID(u.String)
	return &tok, nil
}

// CreateOAuthToken inserts a token record.
func (db *DB) CreateOAuthToken(ctx context.Context, tok *grant.Token) error {
	scopes, err := jsonText(tok.Scopes)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO oauth_tokens
		(hash, tenant_id, kind, grant_id, app_id, client_id, user_id, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		tok.Hash, tok.Tenant, tok.Kind, nullString(string(tok.Grant)), tok.App, tok.ClientID, nullString(string(tok.User)), scopes,
		ts(tok.Created), ts(tok.Expires))
	return translate(err)
}

// OAuthToken reads a token record by digest.
func (db *DB) OAuthToken(ctx context.Context, hash string) (*grant.Token, error) {
	return scanOAuthToken(db.r(ctx).QueryRowContext(ctx, `SELECT `+oauthTokenCols+` FROM oauth_tokens WHERE hash = $1`, hash))
}

// UseRefreshToken marks an unused refresh token used.
func (db *DB) UseRefreshToken(ctx context.Context, hash string, now time.Time) (bool, error) {
	n, err := affected(db.w(ctx).ExecContext(ctx, `UPDATE oauth_tokens SET used_at = $2
		WHERE hash = $1 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL`, hash, ts(now)))
	return n == 1, err
}

// RevokeOAuthToken revokes one token.
func (db *DB) RevokeOAuthToken(ctx context.Context, hash string, now time.Time) error {
	_, err := db.w(ctx).ExecContext(ctx, `UPDATE oauth_tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL`, hash, ts(now))
	return err
}

const consentCols = `tenant_id, user_id, app_id, scopes, created_at, updated_at`

func scanConsent(row rowScanner) (*grant.Consent, error) {
	var c grant.Consent
	err := row.Scan(&c.Tenant, &c.User, &c.App, jsonCol{&c.Scopes}, timeCol{&c.Created}, timeCol{&c.Updated})
	if err != nil {
		return nil, notFound(err, grant.ErrConsentNotFound)
	}
	return &c, nil
}

// Consent reads u's consent to app.
func (db *DB) Consent(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) (*grant.Consent, error) {
	return scanConsent(db.r(ctx).QueryRowContext(ctx, `SELECT `+consentCols+` FROM oauth_consents
		WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3`, t, u, app))
}

// PutConsent inserts or replaces a consent.
func (db *DB) PutConsent(ctx context.Context, c *grant.Consent) error {
	scopes, err := jsonText(c.Scopes)
	if err != nil {
		return err
	}
	_, err = db.w(ctx).ExecContext(ctx, `INSERT INTO oauth_consents (tenant_id, user_id, app_id, scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, user_id, app_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		c.Tenant, c.User, c.App, scopes, ts(c.Created), ts(c.Updated))
	return translate(err)
}

// DeleteConsent removes u's consent to app.
func (db *DB) DeleteConsent(ctx context.Context, t tenant.ID, u user.ID, app access.AppID) (bool, error) {
	n, err := affected(db.w(ctx).ExecContext(ctx, `DELETE FROM oauth_consents WHERE tenant_id = $1 AND user_id = $2 AND app_id = $3`, t, u, app))
	return n == 1, err
}

// ListConsents lists u's consents by application id.
func (db *DB) ListConsents(ctx context.Context, t tenant.ID, u user.ID) ([]grant.Consent, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+consentCols+` FROM oauth_consents WHERE tenant_id = $1 AND user_id = $2
		ORDER BY app_id`, t, u)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanConsent)
}

// RecordAssertion records a client assertion's id until it expires;
// grant.ErrAssertionReplay when a live record has it. ON CONFLICT rather
// than a unique violation, which on PostgreSQL would abort the caller's
// transaction.
func (db *DB) RecordAssertion(ctx context.Context, t tenant.ID, clientID, jti string, expires, now time.Time) error {
	n, err := affected(db.w(ctx).ExecContext(ctx, `INSERT INTO oauth_assertions (tenant_id, client_id, jti, expires_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE oauth_assertions.expires_at <= $5`, t, clientID, jti, ts(expires), ts(now)))
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return grant.ErrAssertionReplay
	}
	return nil
}

// DeleteExpiredOAuth forgets expired requests and tokens, then grants that
// have ended and have no tokens left.
func (db *DB) DeleteExpiredOAuth(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, stmt := range []string{
		`DELETE FROM oauth_requests WHERE expires_at <= $1 AND (code_expires_at IS NULL OR code_expires_at <= $1)`,
		`DELETE FROM oauth_tokens WHERE expires_at <= $1`,
		`DELETE FROM oauth_assertions WHERE expires_at <= $1`,
		`DELETE FROM oauth_grants WHERE (revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= $1))
			AND NOT EXISTS (SELECT 1 FROM oauth_tokens k WHERE k.tenant_id = oauth_grants.tenant_id AND k.grant_id = oauth_grants.id)`,
	} {
		n, err := affected(db.w(ctx).ExecContext(ctx, stmt, ts(now)))
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
