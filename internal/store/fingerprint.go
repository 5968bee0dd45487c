package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// bookkeeping lists columns that record use rather than data (a token's last
// use changes when a refused request authenticates); Fingerprint skips them.
var bookkeeping = map[string]bool{"api_tokens.last_used_at": true}

// Fingerprint digests every row of every Tessera table but bookkeeping
// columns. Two equal fingerprints mean equal data: tests use it to prove that
// a refused request changed nothing, and operators can compare a restored copy.
func (db *DB) Fingerprint(ctx context.Context) (string, error) {
	tables, err := db.tables(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, t := range tables {
		rows, err := db.read.QueryContext(ctx, `SELECT * FROM `+t)
		if err != nil {
			return "", fmt.Errorf("fingerprint %s: %w", t, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i, c := range cols {
			if bookkeeping[t+"."+c] {
				ptrs[i] = new(any) // read, then dropped
			}
		}
		for i := range vals {
			if ptrs[i] == nil {
				ptrs[i] = &vals[i]
			}
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", err
			}
			lines = append(lines, fmt.Sprintf("%q", vals))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		slices.Sort(lines)
		fmt.Fprintf(h, "%s\n%s\n", t, strings.Join(lines, "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (db *DB) tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`
	if db.dialect == Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version' ORDER BY table_name`
	}
	rows, err := db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n sql.NullString
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n.String)
	}
	return out, rows.Err()
}
