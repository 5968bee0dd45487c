package main

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/tessera-iam/tessera/internal/store"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for the raw connection
	_ "modernc.org/sqlite"             // "sqlite" for the raw connection
)

// rawDB is a plain database/sql handle on the benchmark database, beside the
// store's: for what the store does not offer (ANALYZE, EXPLAIN, counting,
// sizes, clean-up).
type rawDB struct {
	*sql.DB
	dialect string
	name    string // Postgres database name
	path    string // SQLite file
}

// prepareSQLite returns the SQLite file of the run, removing an earlier one
// unless reuse.
func prepareSQLite(dir string, reuse bool) (string, error) {
	d := filepath.Join(dir, "sqlite")
	if !reuse {
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
	}
	return filepath.Join(d, "tessera.db"), os.MkdirAll(d, 0o700)
}

// preparePostgres returns the URL of the run's database, recreating it unless
// reuse finds it.
func preparePostgres(ctx context.Context, serverURL, name string, reuse bool) (string, error) {
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	var exists bool
	if err := admin.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !reuse || !exists {
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			return "", err
		}
		if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
			return "", err
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func openRaw(dialect, target, name string) (*rawDB, error) {
	if dialect == "postgres" {
		db, err := sql.Open("pgx", target)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(2)
		return &rawDB{DB: db, dialect: dialect, name: name}, nil
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: target}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &rawDB{DB: db, dialect: dialect, path: target}, nil
}

// analyze refreshes the planner statistics (and, on Postgres, the visibility
// map, so that autovacuum has nothing left to do during the measurements).
func (r *rawDB) analyze(ctx context.Context) error {
	if r.dialect == "postgres" {
		_, err := r.ExecContext(ctx, `VACUUM (ANALYZE)`)
		return err
	}
	if _, err := r.ExecContext(ctx, `ANALYZE`); err != nil {
		return err
	}
	_, err := r.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// dropStats returns an SQLite database to the never-analyzed state.
func (r *rawDB) dropStats(ctx context.Context) error {
	_, err := r.ExecContext(ctx, `DROP TABLE IF EXISTS sqlite_stat1`)
	if err != nil {
		return fmt.Errorf("drop sqlite_stat1: %w", err)
	}
	_, err = r.ExecContext(ctx, `DROP TABLE IF EXISTS sqlite_stat4`)
	return err
}

func (r *rawDB) version(ctx context.Context) string {
	q := `SELECT 'SQLite ' || sqlite_version()`
	if r.dialect == "postgres" {
		q = `SELECT version()`
	}
	var v string
	if err := r.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return err.Error()
	}
	return v
}

// size is the database's size on disk in bytes.
func (r *rawDB) size(ctx context.Context) int64 {
	if r.dialect == "postgres" {
		var n int64
		_ = r.QueryRowContext(ctx, `SELECT pg_database_size($1)`, r.name).Scan(&n)
		return n
	}
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(r.path + suffix); err == nil {
			n += st.Size()
		}
	}
	return n
}

func (r *rawDB) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := r.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// cleanup removes what the load phases added (users created over HTTP, the
// commit primitive's settings), so that a -reuse run starts from the same N.
func (r *rawDB) cleanup(ctx context.Context, tenant string) error {
	for _, q := range []string{
		`DELETE FROM users WHERE tenant_id = $1 AND username_key LIKE 'load.%'`,
		`DELETE FROM tenant_settings WHERE tenant_id = $1 AND key LIKE 'bench.commit.%'`,
	} {
		if _, err := r.ExecContext(ctx, q, tenant); err != nil {
			return err
		}
	}
	return nil
}

// cpu is a CPU-time reading: this process (the Tessera server), and on
// Postgres the database server's processes that work for this database.
type cpu struct {
	self time.Duration
	pg   map[int]time.Duration
	sys  time.Duration // busy time of the whole machine, every process
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// pgCPU reads the CPU time of the backends connected to this database (but
// not the raw connection's own) and of the WAL writer, checkpointer and
// background writer, from /proc (the server runs on this machine).
func (r *rawDB) pgCPU(ctx context.Context) map[int]time.Duration {
	if r == nil || r.dialect != "postgres" {
		return nil
	}
	rows, err := r.QueryContext(ctx, `SELECT pid FROM pg_stat_activity
		WHERE (datname = $1 AND pid <> pg_backend_pid()) OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`, r.name)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			out[pid] = procCPU(pid)
		}
	}
	return out
}

// procCPU is the CPU time of a single-threaded process (a PostgreSQL
// backend): from /proc/PID/schedstat in nanoseconds, else from
// /proc/PID/stat in clock ticks.
func procCPU(pid int) time.Duration {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return time.Duration(ns)
			}
		}
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // fields from 3 (state) on
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(ut+st) * clockTick
}

func (r *rawDB) readCPU(ctx context.Context) cpu {
	return cpu{self: selfCPU(), pg: r.pgCPU(ctx), sys: machineBusy()}
}

// usage is the CPU time spent in a window.
type usage struct {
	server, database, machine time.Duration
}

// others is the machine's busy time not spent by the server, its database
// or the load generator: other work on a shared machine, which the run
// reports so that a noisy measurement can be told from a slow server.
func (u usage) others(client time.Duration) time.Duration {
	return max(0, u.machine-u.server-u.database-client)
}

// since returns the CPU spent since c. A backend that appeared in between
// counts from zero; one that ended is lost (the store keeps its
// connections, so none should).
func (r *rawDB) since(ctx context.Context, c cpu) usage {
	now := r.readCPU(ctx)
	u := usage{server: now.self - c.self, machine: now.sys - c.sys}
	for pid, t := range now.pg {
		u.database += t - c.pg[pid]
	}
	return u
}

// machineBusy is the busy time of all CPUs from /proc/stat (user, nice,
// system, irq, softirq, steal).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * clockTick
}

func machineInfo() map[string]string {
	m := map[string]string{"date": time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				m["cpu"] = strings.TrimSpace(v)
				n++
			case "cpu MHz":
				m["cpu_mhz"] = strings.TrimSpace(v)
			}
		}
		m["cpus"] = strconv.Itoa(n)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_start"] = strings.TrimSpace(string(b))
	}
	return m
}

func fmtBytes(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// waitQuiet waits until the machine's other work uses fewer than below
// cores over two seconds (this process and the load generator are idle
// between measurements), or until max has passed. On a shared machine it
// keeps other people's builds and tests out of the measurements as far as
// it can; each result still reports the others' load during it.
func waitQuiet(ctx context.Context, below float64, max time.Duration) {
	if below <= 0 {
		return
	}
	deadline := time.Now().Add(max)
	for ctx.Err() == nil {
		b0 := machineBusy()
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		load := (machineBusy() - b0).Seconds() / 2
		if load < below {
			return
		}
		if time.Now().After(deadline) {
			log.Printf("machine still busy (%.2f cores used by others): measuring anyway", load)
			return
		}
	}
}

// openDatabases prepares the named database (sqlite or postgres) and opens it
// both through the store and raw; target is what store.Open took.
func openDatabases(ctx context.Context, name, dir, postgresURL, pgDatabase string, reuse bool) (string, *store.DB, *rawDB, error) {
	target, pgName := "", ""
	var err error
	if name == "sqlite" {
		target, err = prepareSQLite(dir, reuse)
	} else {
		pgName = pgDatabase
		target, err = preparePostgres(ctx, postgresURL, pgName, reuse)
	}
	if err != nil {
		return "", nil, nil, err
	}
	db, err := store.Open(ctx, target)
	if err != nil {
		return "", nil, nil, err
	}
	raw, err := openRaw(name, target, pgName)
	if err != nil {
		db.Close()
		return "", nil, nil, err
	}
	return target, db, raw, nil
}
