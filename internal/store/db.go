package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names a supported database.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the database behind every domain store.
type DB struct {
	dialect Dialect
	write   *sql.DB // the only connection that writes on SQLite; the pool on Postgres
	read    *sql.DB // readers outside transactions; same as write on Postgres
}

// Open connects to url: "postgres://..." for PostgreSQL, otherwise a path to
// an SQLite file (created if missing). It does not migrate; call Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url)
	}
	return openSQLite(ctx, url)
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(4 * runtime.GOMAXPROCS(0))
	db.SetMaxIdleConns(4 * runtime.GOMAXPROCS(0))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &DB{dialect: Postgres, write: db, read: db}, nil
}

// sqlitePragmas: foreign keys on (off by default in SQLite); WAL so readers
// never block the writer; synchronous=NORMAL, durable in WAL against process
// crashes (a power cut may lose the last commits, not corrupt the file);
// BEGIN IMMEDIATE so a transaction takes the write lock at its start rather
// than failing to upgrade half-way.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_txlock=immediate"

func openSQLite(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + sqlitePragmas
	conns, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write := sql.OpenDB(stmtConnector{conns})
	write.SetMaxOpenConns(1) // SQLite has one writer: queue in Go, not in busy waits
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read := sql.OpenDB(stmtConnector{conns})
	read.SetMaxOpenConns(2 * runtime.GOMAXPROCS(0))
	read.SetMaxIdleConns(2 * runtime.GOMAXPROCS(0))
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", abs, err)
	}
	return &DB{dialect: SQLite, write: write, read: read}, nil
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes every connection.
func (db *DB) Close() error {
	if db.read != db.write {
		db.read.Close()
	}
	return db.write.Close()
}

// Ping checks the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

type txKey struct{}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxAttempts bounds the reruns of a transaction PostgreSQL aborted.
const maxAttempts = 10

// InTx runs fn in a transaction carried by the context fn receives. Called
// inside another InTx it joins the outer transaction, so services compose.
//
// Transactions run at READ COMMITTED; rules that read one row and write
// another take row locks in a fixed order (see access.Service.Refresh).
// SERIALIZABLE would make every two writers of a tenant conflict on its audit
// head row. On PostgreSQL a deadlock or serialization failure reruns fn from
// the start with backoff, so fn must not have effects outside the
// transaction other than assigning its results. SQLite has one writer.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return fn(ctx)
	}
	for attempt := 1; ; attempt++ {
		err := db.tx(ctx, fn)
		if attempt == maxAttempts || !retryable(err) {
			return err
		}
		// Jittered exponential backoff: 1-2 ms, 2-4 ms, ... capped at 256 ms.
		d := time.Millisecond << min(attempt-1, 8)
		select {
		case <-time.After(d + rand.N(d)):
		case <-ctx.Done():
			return err
		}
	}
}

func (db *DB) tx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		// Roll back on an error, a panic or runtime.Goexit alike: a
		// transaction left open would hold SQLite's only writer forever.
		if !committed {
			tx.Rollback()
		}
	}()
	var after []func()
	ctx = context.WithValue(context.WithValue(ctx, txKey{}, tx), afterKey{}, &after)
	if err = fn(ctx); err != nil {
		return err
	}
	committed = true
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	for _, f := range after {
		f()
	}
	return nil
}

type afterKey struct{}

// AfterCommit runs fn once the transaction in ctx has committed (never if
// it rolls back), or at once outside a transaction: for effects outside
// the database, such as dropping cached state, that must not run ahead of
// the change they follow.
func (db *DB) AfterCommit(ctx context.Context, fn func()) {
	if after, ok := ctx.Value(afterKey{}).(*[]func()); ok {
		*after = append(*after, fn)
		return
	}
	fn()
}

// retryable reports a PostgreSQL serialization failure or deadlock: the
// transaction did nothing and may simply run again.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}

// r returns the querier for reads: the context's transaction or the readers.
func (db *DB) r(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	return db.read
}

// w returns the querier for writes: the context's transaction or the writer.
func (db *DB) w(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	return db.write
}

// forUpdate locks the rows a read-modify-write selects. NO KEY UPDATE: keys
// never change, and the weaker lock does not conflict with the key-share
// locks that foreign key checks take (a full FOR UPDATE there deadlocks two
// writers that each inserted a referencing row). SQLite needs no row lock:
// BEGIN IMMEDIATE already holds the database's only write lock.
func (db *DB) forUpdate() string {
	if db.dialect == Postgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// errUnique and errForeignKey classify constraint violations across drivers.
var (
	errUnique     = errors.New("unique constraint violated")
	errForeignKey = errors.New("foreign key constraint violated")
)

// constraintError keeps the driver's description of which constraint failed.
type constraintError struct {
	kind   error
	detail string // Postgres constraint name, or SQLite's "table.column, ..." text
}

func (e *constraintError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *constraintError) Unwrap() error { return e.kind }

// translate turns driver constraint errors into constraintError.
func translate(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return &constraintError{errUnique, pg.ConstraintName}
		case "23503":
			return &constraintError{errForeignKey, pg.ConstraintName}
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &constraintError{errUnique, se.Error()}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &constraintError{errForeignKey, se.Error()}
		}
	}
	return err
}

// violates reports whether err is a unique violation touching column of
// table. Postgres index names follow table_column_uq; SQLite names columns.
func violates(err error, table, column string) bool {
	var ce *constraintError
	if !errors.As(err, &ce) || ce.kind != errUnique {
		return false
	}
	return strings.Contains(ce.detail, table+"_"+column) || strings.Contains(ce.detail, table+"."+column)
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool { return errors.Is(err, errForeignKey) }
