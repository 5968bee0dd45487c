// Command tessera-bench measures Tessera's admin API on large databases
// (DESIGN §5, issue 2): it seeds N users into a fresh SQLite file and a fresh
// PostgreSQL database through the store, starts the real HTTP handler on a
// loopback listener, and measures
//
//   - list latency (p50/p95/p99) per query shape, with server CPU per request;
//   - create-user throughput over HTTP with C concurrent clients, as creates/s
//     and creates per server CPU-second;
//   - in the same run, the dominant primitives: the store's one-row commit
//     and the raw argon2id derivation beside a full password check.
//
// The load generator is a child process (this binary re-executed with
// -client), so the server process's CPU time (getrusage RUSAGE_SELF around
// each measurement) is the server's alone. With PostgreSQL the database's
// own CPU (its backends for this database and the WAL writer, from
// /proc/PID/stat) is reported beside it.
//
// Every phase is bounded by a request count and a duration; the whole run by
// -timeout. Traffic stays on 127.0.0.1. Results go to stdout as Markdown and,
// with -json, to a file.
//
// "tessera-bench access [flags]" is the access-history benchmark of issue 3
// (access.go): 10,000,000 rows in access_intervals, then the as-of reports.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type options struct {
	users       int
	dbs         []string
	postgresURL string
	pgDatabase  string
	dir         string
	reuse       bool
	keep        bool
	seed        uint64

	orgs       int
	groups     int
	memberFrac float64
	batch      int
	pgWorkers  int

	phases        []string
	shapes        []string
	listRequests  int
	listWarmup    int
	listMaxTime   time.Duration
	clients       int
	createFor     time.Duration
	commitFor     time.Duration
	passwordFor   time.Duration
	explain       bool
	jsonOut       string
	timeout       time.Duration
	clientMode    bool
	clientThreads int
	sqliteStats   bool
	idleBelow     float64
	idleWait      time.Duration
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "access" {
		accessMain(os.Args[2:])
		return
	}
	var o options
	var dbs, phases, shapes string
	flag.IntVar(&o.users, "n", 1_000_000, "users to seed")
	flag.StringVar(&dbs, "db", "sqlite,postgres", "databases to run: sqlite, postgres or both")
	flag.StringVar(&o.postgresURL, "postgres", envOr("TESSERA_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server; the driver creates its own database there")
	flag.StringVar(&o.pgDatabase, "pg-db", "tessera_bench", "PostgreSQL database to (re)create for the run")
	flag.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "tessera-bench"), "working directory (SQLite file, data directories)")
	flag.BoolVar(&o.reuse, "reuse", false, "reuse a database seeded by an earlier run with the same -n instead of recreating it")
	flag.BoolVar(&o.keep, "keep", true, "keep the databases after the run (for -reuse and EXPLAIN by hand)")
	flag.Uint64Var(&o.seed, "seed", 2, "seed of the data generator")
	flag.IntVar(&o.orgs, "orgs", 100, "organizations (users spread over them by a Zipf law; 10% stay tenant-level)")
	flag.IntVar(&o.groups, "groups", 200, "groups (tenant-wide; memberships follow a Zipf law)")
	flag.Float64Var(&o.memberFrac, "member-frac", 0.3, "fraction of users in 1 to 3 groups")
	flag.IntVar(&o.batch, "batch", 10_000, "users per seeding transaction")
	flag.IntVar(&o.pgWorkers, "pg-seed-workers", 4, "concurrent seeding transactions on PostgreSQL (SQLite has one writer)")
	flag.StringVar(&phases, "phases", "list,create,commit,password", "phases to run")
	flag.StringVar(&shapes, "shapes", "", "list shapes to run (comma-separated names; empty: all)")
	flag.IntVar(&o.listRequests, "list-requests", 300, "measured requests per list shape")
	flag.IntVar(&o.listWarmup, "list-warmup", 30, "unmeasured requests per list shape first")
	flag.DurationVar(&o.listMaxTime, "list-max-time", time.Minute, "bound per list shape")
	flag.IntVar(&o.clients, "c", 8, "concurrent clients for create, commit and password phases")
	flag.DurationVar(&o.createFor, "create-duration", 10*time.Second, "length of each create run")
	flag.DurationVar(&o.commitFor, "commit-duration", 5*time.Second, "length of the commit primitive run")
	flag.DurationVar(&o.passwordFor, "password-duration", 5*time.Second, "length of each password run")
	flag.BoolVar(&o.explain, "explain", true, "print the query plan of every list shape")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Hour, "stop everything after this long")
	flag.BoolVar(&o.sqliteStats, "sqlite-analyze", true, "measure SQLite with ANALYZE statistics (false: drop them, as Tessera never runs ANALYZE)")
	flag.Float64Var(&o.idleBelow, "idle-below", 0.3, "before each measurement wait until other processes use fewer cores than this (0: never wait)")
	flag.DurationVar(&o.idleWait, "idle-wait", 2*time.Minute, "longest wait for a quiet machine before measuring anyway")
	flag.BoolVar(&o.clientMode, "client", false, "internal: run as the load-generating child")
	flag.IntVar(&o.clientThreads, "client-procs", 0, "internal: GOMAXPROCS of the client child (0: all)")
	flag.Parse()
	o.dbs, o.phases, o.shapes = split(dbs), split(phases), split(shapes)

	if o.clientMode {
		if o.clientThreads > 0 {
			runtime.GOMAXPROCS(o.clientThreads)
		}
		if err := runClient(os.Stdin, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	log.SetFlags(log.Ltime)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	rep := report{Machine: machineInfo(), Options: o.summary()}
	for _, name := range o.dbs {
		var r *dbResult
		var err error
		switch name {
		case "sqlite", "postgres":
			r, err = runDB(ctx, o, name)
		default:
			return fmt.Errorf("unknown database %q", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rep.Results = append(rep.Results, r)
	}
	rep.write(out)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (o options) has(phase string) bool {
	for _, p := range o.phases {
		if p == phase {
			return true
		}
	}
	return false
}

func (o options) summary() map[string]any {
	return map[string]any{
		"users": o.users, "orgs": o.orgs, "groups": o.groups, "member_frac": o.memberFrac, "batch": o.batch,
		"clients": o.clients, "list_requests": o.listRequests, "list_warmup": o.listWarmup,
		"create_duration": o.createFor.String(), "commit_duration": o.commitFor.String(),
		"password_duration": o.passwordFor.String(), "seed": o.seed, "reuse": o.reuse, "idle_below": o.idleBelow, "sqlite_analyze": o.sqliteStats,
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
