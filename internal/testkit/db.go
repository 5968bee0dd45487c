// Package testkit gives tests real databases and fixtures. Only tests import it.
package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tessera-iam/tessera/internal/store"
)

// DefaultPostgres is where CI's PostgreSQL listens.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the server to test against, or "" to skip. Locally the
// suite is skipped unless TESSERA_TEST_POSTGRES is set; on CI (CI set) it
// falls back to DefaultPostgres and never skips.
func PostgresURL(t testing.TB) string {
	if u := os.Getenv("TESSERA_TEST_POSTGRES"); u != "" {
		return u
	}
	if os.Getenv("CI") != "" {
		return DefaultPostgres
	}
	return ""
}

// EachDB runs fn once per database, each time on a fresh, migrated one.
func EachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		u := PostgresURL(t)
		if u == "" {
			t.Skip("set TESSERA_TEST_POSTGRES to run the PostgreSQL suite")
		}
		fn(t, OpenPostgres(t, u))
	})
}

// OpenSQLite returns a migrated SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tessera.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

var (
	templateOnce sync.Once
	templateErr  error
)

// templateName changes with the migrations, so a template left by an older
// schema is never reused.
func templateName() string { return "tessera_tpl_" + store.MigrationsDigest() }

// OpenPostgres creates a fresh database from a migrated template (migrating
// once per test binary is far cheaper than per test) and drops it afterwards.
func OpenPostgres(t testing.TB, serverURL string) *store.DB {
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
	name := fmt.Sprintf("tessera_test_%d_%s", os.Getpid(), strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name())))
	if len(name) > 63 {
		name = name[:40] + fmt.Sprintf("_%x", hash(name))
	}
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	// Two sessions cloning one template at the same instant make PostgreSQL
	// refuse one ("being accessed by other users"): retry briefly.
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
	db, err := store.Open(ctx, withDatabase(t, serverURL, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		a, err := sql.Open("pgx", serverURL)
		if err == nil {
			a.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
			a.Close()
		}
	})
	return db
}

func ensureTemplate(ctx context.Context, admin *sql.DB, serverURL string) error {
	// Test binaries run in parallel: one builds, the others wait on a
	// server-wide advisory lock and then find it built.
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727272)`); err != nil {
		return err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(727272)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, templateName()).Scan(&exists); err != nil || exists {
		return err
	}
	building := templateName() + "_wip"
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
		return err
	}
	db, err := store.Open(ctx, withDatabaseURL(serverURL, building))
	if err != nil {
		return err
	}
	err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+templateName())
	return err
}

func withDatabase(t testing.TB, serverURL, name string) string {
	t.Helper()
	return withDatabaseURL(serverURL, name)
}

func withDatabaseURL(serverURL, name string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	u.Path = "/" + name
	return u.String()
}

func hash(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
