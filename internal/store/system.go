package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
)

// SystemSetting returns an installation-wide value.
func (db *DB) SystemSetting(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := db.r(ctx).QueryRowContext(ctx, `SELECT value FROM system_settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// PutSystemSettingIfAbsent stores value unless key already has one, and
// returns the value that is stored now (first writer wins across nodes).
func (db *DB) PutSystemSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	if _, err := db.w(ctx).ExecContext(ctx, `INSERT INTO system_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	v, _, err := db.SystemSetting(ctx, key)
	return v, err
}

// SizeBytes is the space the database takes: SQLite's pages (the WAL not
// counted), or PostgreSQL's whole database.
func (db *DB) SizeBytes(ctx context.Context) (int64, error) {
	q := `SELECT pg_database_size(current_database())`
	if db.dialect == SQLite {
		q = `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`
	}
	var n int64
	err := db.read.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

const sessionsEpochKey = "sessions_epoch"

// MarkSessionsEnded records that sessions ended, for processes that cache
// sessions (see SessionsEpoch).
func (db *DB) MarkSessionsEnded(ctx context.Context) error {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	_, err := db.w(ctx).ExecContext(ctx, `INSERT INTO system_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, sessionsEpochKey, hex.EncodeToString(b))
	return err
}

// SessionsEpoch changes whenever MarkSessionsEnded runs, in any process.
func (db *DB) SessionsEpoch(ctx context.Context) (string, error) {
	v, _, err := db.SystemSetting(ctx, sessionsEpochKey)
	return v, err
}
