package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/store"
)

// EachRawDB is EachDB for tests that must also reach the database behind
// the store's back (tampering with the audit log, as an attacker with
// database access would): fn gets the store and a plain *sql.DB on the same
// fresh, migrated database. Placeholders are $1.. on both.
func EachRawDB(t *testing.T, fn func(t *testing.T, db *store.DB, raw *sql.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, dsn := OpenSQLiteDSN(t)
		fn(t, db, openRaw(t, "sqlite", dsn))
	})
	t.Run("postgres", func(t *testing.T) {
		u := PostgresURL(t)
		if u == "" {
			t.Skip("set TESSERA_TEST_POSTGRES to run the PostgreSQL suite")
		}
		db, dsn := OpenPostgresDSN(t, u)
		fn(t, db, openRaw(t, "pgx", dsn))
	})
}

// OpenSQLiteDSN is OpenSQLite that also returns a DSN for database/sql's
// "sqlite" driver reaching the same file.
func OpenSQLiteDSN(t testing.TB) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tessera.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db, "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
}

// OpenPostgresDSN is OpenPostgres that also returns the new database's URL.
func OpenPostgresDSN(t testing.TB, serverURL string) (*store.DB, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	templateOnce.Do(func() { templateErr = ensureTemplate(ctx, admin, serverURL) })
	if templateErr != nil {
		t.Fatalf("postgres template: %v", templateErr)
	}
	name := fmt.Sprintf("tessera_raw_%d_%x_%d", os.Getpid(), hash(t.Name()), time.Now().UnixNano()%1e6)
	for try := 0; ; try++ {
		_, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`" TEMPLATE `+templateName())
		if err == nil {
			break
		}
		if try == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+try*10) * time.Millisecond)
	}
	dsn := withDatabaseURL(serverURL, name)
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if a, err := sql.Open("pgx", serverURL); err == nil {
			a.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
			a.Close()
		}
	})
	return db, dsn
}

func openRaw(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return raw
}
