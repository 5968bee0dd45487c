package main

// "tessera-bench access" measures the as-of access reports of issue 3 on a
// large history: it seeds access_intervals (access_seed.go) into a fresh
// SQLite file and a fresh PostgreSQL database, runs ANALYZE, and measures
// through the real store methods, one call at a time (an unloaded server, one
// auditor's question):
//
//   - accounts-at: store.AccountsAt, page of 50, a random application
//     (weighted by its rows, so mostly the huge ones) at a random instant of
//     the history; accounts-now: the same at the current instant;
//   - permissions-at / permissions-now: store.PermissionsAt, a random user;
//   - changes-1d: store.AccessChanges, page of 50, one day from a random
//     instant, a random application (weighted);
//   - seats-used: store.SeatsUsed, a random application (weighted);
//
// with p50/p95/p99 per shape and per application size, the server's CPU per
// call (getrusage: this process, which is also SQLite) and PostgreSQL's
// (its backends, from /proc); then the same questions once over HTTP through
// the real handler, from the load-generating child; then the query plans of
// the median and the slowest call of each shape (EXPLAIN QUERY PLAN on
// SQLite; EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, and the generic plan a
// reused prepared statement settles on when it differs).
//
// Every phase is bounded by a call count and a duration, the run by
// -timeout; the HTTP server listens on 127.0.0.1 only.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

type accessOptions struct {
	rows          int
	users         int
	apps          int
	huge          []float64
	years         float64
	orgs          int
	groups        int
	businessRoles int
	memberFrac    float64
	openFrac      float64
	seed          uint64

	dbs         []string
	postgresURL string
	pgDatabase  string
	dir         string
	reuse       bool
	stmtRows    int
	txRows      int
	pgWorkers   int

	shapes    []string
	queries   int
	noStatsN  int
	warmup    int
	maxTime   time.Duration
	httpCalls int
	limit     int
	explain   bool
	jsonOut   string
	timeout   time.Duration
}

func accessMain(args []string) {
	var o accessOptions
	var dbs, huge, shapes string
	fs := flag.NewFlagSet("tessera-bench access", flag.ExitOnError)
	fs.IntVar(&o.rows, "rows", 10_000_000, "access_intervals rows to seed")
	fs.IntVar(&o.users, "users", 200_000, "users")
	fs.IntVar(&o.apps, "apps", 200, "applications")
	fs.StringVar(&huge, "huge", "0.16,0.13,0.11,0.10", "shares of the rows held by the largest applications; the rest follow a Zipf law")
	fs.Float64Var(&o.years, "years", 3, "length of the history in years (365 days)")
	fs.IntVar(&o.orgs, "orgs", 100, "organizations")
	fs.IntVar(&o.groups, "groups", 200, "groups (paths of group grants, Zipf)")
	fs.IntVar(&o.businessRoles, "business-roles", 40, "business roles (paths of business-role grants)")
	fs.Float64Var(&o.memberFrac, "member-frac", 0.3, "fraction of users in 1 to 3 groups")
	fs.Float64Var(&o.openFrac, "open-frac", 0.5, "chance that an active user's grant key is still held")
	fs.Uint64Var(&o.seed, "seed", 3, "seed of the data generator and of the query parameters")
	fs.StringVar(&dbs, "db", "sqlite,postgres", "databases to run: sqlite, postgres or both")
	fs.StringVar(&o.postgresURL, "postgres", envOr("TESSERA_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server; the driver creates its own database there")
	fs.StringVar(&o.pgDatabase, "pg-db", "tessera_bench_access", "PostgreSQL database to (re)create for the run")
	fs.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "tessera-bench-access"), "working directory (SQLite file, data directories)")
	fs.BoolVar(&o.reuse, "reuse", false, "reuse a database seeded by an earlier run with the same data flags instead of recreating it")
	fs.IntVar(&o.stmtRows, "insert-rows", 500, "rows per INSERT statement while seeding")
	fs.IntVar(&o.txRows, "tx-rows", 100_000, "rows per seeding transaction")
	fs.IntVar(&o.pgWorkers, "pg-seed-workers", 2, "concurrent seeding transactions on PostgreSQL (SQLite has one writer)")
	fs.StringVar(&shapes, "shapes", "", "shapes to run (comma-separated names; empty: all)")
	fs.IntVar(&o.queries, "n", 1000, "measured calls per shape through the store")
	fs.IntVar(&o.noStatsN, "sqlite-nostats-n", 300, "SQLite: measured calls per shape before ANALYZE, as the store leaves the file (0: skip)")
	fs.IntVar(&o.warmup, "warmup", 100, "unmeasured calls per shape first")
	fs.DurationVar(&o.maxTime, "max-time", 90*time.Second, "bound per shape and phase")
	fs.IntVar(&o.httpCalls, "http-n", 200, "measured requests per shape over HTTP (0: skip)")
	fs.IntVar(&o.limit, "limit", page.DefaultLimit, "page size of accounts-at and changes-1d")
	fs.BoolVar(&o.explain, "explain", true, "capture the query plans of the median and the slowest call of each shape")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.DurationVar(&o.timeout, "timeout", 100*time.Minute, "stop everything after this long")
	fs.Parse(args)
	o.dbs, o.shapes = split(dbs), split(shapes)
	for _, f := range split(huge) {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			log.Fatalf("-huge: %v", err)
		}
		o.huge = append(o.huge, x)
	}
	log.SetFlags(log.Ltime)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if err := runAccess(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func runAccess(ctx context.Context, o accessOptions, out io.Writer) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	rep := ivReport{Machine: machineInfo(), Options: o.summary()}
	for _, name := range o.dbs {
		if name != "sqlite" && name != "postgres" {
			return fmt.Errorf("unknown database %q", name)
		}
		r, err := runAccessDB(ctx, o, name)
		if r != nil {
			rep.Results = append(rep.Results, r)
		}
		if err != nil {
			rep.write(out)
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	rep.write(out)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		return os.WriteFile(o.jsonOut, b, 0o644)
	}
	return nil
}

func (o accessOptions) summary() map[string]any {
	return map[string]any{"rows": o.rows, "users": o.users, "apps": o.apps, "huge": o.huge, "years": o.years,
		"orgs": o.orgs, "groups": o.groups, "business_roles": o.businessRoles, "open_frac": o.openFrac, "seed": o.seed,
		"n": o.queries, "sqlite_nostats_n": o.noStatsN, "warmup": o.warmup, "http_n": o.httpCalls, "limit": o.limit, "reuse": o.reuse,
		"insert_rows": o.stmtRows, "tx_rows": o.txRows, "pg_seed_workers": o.pgWorkers}
}

// ivEnv is one database under test.
type ivEnv struct {
	o      accessOptions
	db     *store.DB
	raw    *rawDB
	srv    *server.Server
	tenant tenant.ID
	token  string
	data   *ivData
	res    *ivDBResult
}

func runAccessDB(ctx context.Context, o accessOptions, name string) (*ivDBResult, error) {
	e := &ivEnv{o: o, res: &ivDBResult{DB: name}}
	target, db, raw, err := openDatabases(ctx, name, o.dir, o.postgresURL, o.pgDatabase, o.reuse)
	if err != nil {
		return nil, err
	}
	e.db, e.raw = db, raw
	defer func() { e.db.Close() }()
	defer raw.Close()
	e.res.Version = e.raw.version(ctx)
	e.res.Settings = e.raw.settings(ctx)
	if e.srv, e.tenant, e.token, err = bootServer(ctx, filepath.Join(o.dir, name+"-data"), e.db); err != nil {
		return nil, err
	}
	m, err := e.seed(ctx, target)
	if err != nil {
		return e.res, err
	}
	if e.data, err = loadIvData(ctx, e.raw, string(e.tenant), m); err != nil {
		return e.res, err
	}
	e.describe(ctx)
	if name == "sqlite" && o.noStatsN > 0 {
		// The store never runs ANALYZE: without statistics SQLite plans
		// by its heuristics, which is what a production file gets.
		for _, t := range []string{"sqlite_stat1", "sqlite_stat4"} { // an earlier run's ANALYZE
			if _, err := e.raw.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return e.res, err
			}
		}
		if o.explain {
			e.res.NoStatsPlans = e.planSample(ctx)
		}
		for k, s := range e.shapes() {
			if len(o.shapes) > 0 && !slices.Contains(o.shapes, s.name) {
				continue
			}
			r, err := e.measure(ctx, s, k, min(o.warmup, 10), o.noStatsN, false)
			if err != nil {
				return e.res, err
			}
			e.res.NoStats = append(e.res.NoStats, r)
		}
	}
	t0 := time.Now()
	if err := e.raw.analyze(ctx); err != nil {
		return e.res, fmt.Errorf("analyze: %w", err)
	}
	e.res.Seed.AnalyzeSeconds = time.Since(t0).Seconds()
	e.res.SizeBytes = e.raw.size(ctx)
	log.Printf("%s: ANALYZE %.1f s; %s on disk", name, e.res.Seed.AnalyzeSeconds, fmtBytes(e.res.SizeBytes))

	for k, s := range e.shapes() {
		if len(o.shapes) > 0 && !slices.Contains(o.shapes, s.name) {
			continue
		}
		r, err := e.measure(ctx, s, k, o.warmup, o.queries, o.explain)
		if err != nil {
			return e.res, err
		}
		e.res.Shapes = append(e.res.Shapes, r)
	}
	if o.httpCalls > 0 {
		if err := e.httpPhase(ctx); err != nil {
			return e.res, err
		}
	}
	return e.res, ctx.Err()
}

// seed fills a fresh database, or checks that a reused one was seeded with
// the same data flags.
func (e *ivEnv) seed(ctx context.Context, target string) (seedMarker, error) {
	o := e.o
	want := seedMarker{Rows: o.rows, Users: o.users, Apps: o.apps, Seed: o.seed}
	v, ok, err := e.db.SystemSetting(ctx, accessSeededKey)
	if err != nil {
		return want, err
	}
	if ok {
		var m seedMarker
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return want, err
		}
		if m.Rows != want.Rows || m.Users != want.Users || m.Apps != want.Apps || m.Seed != want.Seed {
			return want, fmt.Errorf("the database was seeded with %s, not the data asked for: run without -reuse", v)
		}
		e.res.Seed.Reused = true
		log.Printf("%s: reusing the history seeded at %s", e.res.DB, m.Now.Format(time.RFC3339))
		return m, nil
	}
	if n, err := e.raw.count(ctx, `SELECT (SELECT COUNT(*) FROM applications) + (SELECT COUNT(*) FROM business_roles)`); err != nil || n > 0 {
		return want, fmt.Errorf("an unfinished seeding is in the way (%d applications and business roles, %v): run without -reuse", n, err)
	}
	want.Now = server.Now()
	want.Start = want.Now.Add(-time.Duration(o.years * 365 * 24 * float64(time.Hour)))
	workers := 1
	if e.res.DB == "postgres" {
		workers = 2 * o.pgWorkers // users go in one by one through the store
	}
	t0 := time.Now()
	w, err := setupAccess(ctx, e.srv, e.db, e.raw, e.tenant, o, want.Start, want.Now, workers)
	if err != nil {
		return want, fmt.Errorf("setup: %w", err)
	}
	e.res.Seed.SetupSeconds = time.Since(t0).Seconds()
	log.Printf("%s: %d users, %d applications, %d business roles in %.0f s", e.res.DB, len(w.users), len(w.apps), len(w.bizRoles), e.res.Seed.SetupSeconds)
	if err := loadIntervals(ctx, w, e.raw, target, &e.res.Seed); err != nil {
		return want, fmt.Errorf("intervals: %w", err)
	}
	e.res.Seed.Seconds = time.Since(t0).Seconds()
	if _, err := e.db.PutSystemSettingIfAbsent(ctx, accessSeededKey, want.String()); err != nil {
		return want, err
	}
	return want, nil
}

// ivData is what the query parameters are drawn from, read back from the
// database (so that -reuse works the same way).
type ivData struct {
	tenant     string
	start, now time.Time
	apps       []ivAppRows // id order
	appCDF     []float64   // weights: rows
	users      []string
}

type ivAppRows struct {
	id   string
	rows int
}

func loadIvData(ctx context.Context, raw *rawDB, t string, m seedMarker) (*ivData, error) {
	d := &ivData{tenant: t, start: m.Start, now: m.Now}
	t0 := time.Now()
	rows, err := raw.QueryContext(ctx, `SELECT app_id, COUNT(*) FROM access_intervals WHERE tenant_id = $1 GROUP BY app_id ORDER BY app_id`, t)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a ivAppRows
		if err := rows.Scan(&a.id, &a.rows); err != nil {
			rows.Close()
			return nil, err
		}
		d.apps = append(d.apps, a)
	}
	rows.Close()
	if len(d.apps) == 0 {
		return nil, fmt.Errorf("no access intervals")
	}
	sum := 0.0
	for _, a := range d.apps {
		sum += float64(a.rows)
		d.appCDF = append(d.appCDF, sum)
	}
	for i := range d.appCDF {
		d.appCDF[i] /= sum
	}
	rows, err = raw.QueryContext(ctx, `SELECT id FROM users WHERE tenant_id = $1 ORDER BY id`, t)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		d.users = append(d.users, id)
	}
	log.Printf("read %d applications' row counts and %d users in %.1f s", len(d.apps), len(d.users), time.Since(t0).Seconds())
	return d, rows.Err()
}

// describe records the shape of the seeded data.
func (e *ivEnv) describe(ctx context.Context) {
	d, r := e.data, e.res
	r.Users, r.Apps = len(d.users), len(d.apps)
	sizes := make([]int, len(d.apps))
	for i, a := range d.apps {
		sizes[i] = a.rows
		r.Rows += a.rows
		switch bucketOf(a.rows) {
		case bucketHuge:
			r.AppsHuge++
		case bucketLarge:
			r.AppsLarge++
		}
	}
	slices.Sort(sizes)
	r.AppRowsMax, r.AppRowsMedian, r.AppRowsMin = sizes[len(sizes)-1], sizes[len(sizes)/2], sizes[0]
	r.OpenRows, _ = e.raw.count(ctx, `SELECT COUNT(*) FROM access_intervals WHERE tenant_id = $1 AND valid_to IS NULL`, d.tenant)
	r.Start, r.Now = d.start, d.now
	log.Printf("%s: %d rows (%d open), %d applications (%d with 1M+ rows, %d with 100k+; median %d, smallest %d), %d users",
		r.DB, r.Rows, r.OpenRows, r.Apps, r.AppsHuge, r.AppsLarge, r.AppRowsMedian, r.AppRowsMin, r.Users)
}

const (
	bucketHuge  = "apps with 1M+ rows"
	bucketLarge = "apps with 100k-1M rows"
	bucketSmall = "apps under 100k rows"
)

func bucketOf(rows int) string {
	switch {
	case rows >= 1_000_000:
		return bucketHuge
	case rows >= 100_000:
		return bucketLarge
	}
	return bucketSmall
}

// ivSample is one call's parameters.
type ivSample struct {
	app  int       // index in data.apps
	user int       // index in data.users
	at   time.Time // zero: now (the instant of the call)
}

// ivShape is one kind of report call.
type ivShape struct {
	name, doc string
	goal      bool // in issue 3's goal: p95 <= 20 ms
	byApp     bool
	gen       func(r *rand.Rand) ivSample
	run       func(ctx context.Context, s ivSample) (int, error)
	path      func(s ivSample) string
	stmts     func(ctx context.Context, s ivSample) ([]ivStmt, error)
}

func (e *ivEnv) shapes() []ivShape {
	d, t := e.data, e.tenant
	app := func(r *rand.Rand) int { return pick(r, d.appCDF) }
	instant := func(r *rand.Rand) time.Time {
		return d.start.Add(time.Duration(r.Int64N(int64(d.now.Sub(d.start))))).Truncate(time.Microsecond)
	}
	day := func(r *rand.Rand) time.Time {
		return d.start.Add(time.Duration(r.Int64N(int64(d.now.Sub(d.start) - 24*time.Hour)))).Truncate(time.Microsecond)
	}
	now := func(s ivSample) time.Time {
		if s.at.IsZero() {
			return time.Now().UTC()
		}
		return s.at
	}
	atParam := func(v url.Values, s ivSample) url.Values {
		if !s.at.IsZero() {
			v.Set("at", s.at.Format(time.RFC3339Nano))
		}
		return v
	}
	accounts := func(ctx context.Context, s ivSample) (int, error) {
		p, err := e.db.AccountsAt(ctx, t, access.AccountQuery{Request: page.Request{Limit: e.o.limit, Sort: "user"},
			App: access.AppID(d.apps[s.app].id), At: now(s)})
		return len(p.Items), err
	}
	accountsPath := func(s ivSample) string {
		return "/api/v1/reports/app-accounts?" + atParam(url.Values{"application_id": {d.apps[s.app].id},
			"limit": {strconv.Itoa(e.o.limit)}}, s).Encode()
	}
	accountsStmts := func(ctx context.Context, s ivSample) ([]ivStmt, error) {
		span := accessSpanSQL(d.tenant, d.apps[s.app].id)
		ids := accountsIDsSQL(e.raw.dialect, d.tenant, d.apps[s.app].id, now(s), e.o.limit+1)
		got, err := e.raw.strings(ctx, ids.SQL, ids.Args...)
		if err != nil || len(got) == 0 {
			return []ivStmt{span, ids}, err
		}
		return []ivStmt{span, ids, accountsDetailSQL(e.raw.dialect, d.tenant, d.apps[s.app].id, now(s), got[:min(len(got), e.o.limit)])}, nil
	}
	perms := func(ctx context.Context, s ivSample) (int, error) {
		ivs, err := e.db.PermissionsAt(ctx, t, user.ID(d.users[s.user]), now(s))
		return len(ivs), err
	}
	permsPath := func(s ivSample) string {
		return "/api/v1/reports/user-permissions?" + atParam(url.Values{"user_id": {d.users[s.user]}}, s).Encode()
	}
	permsStmts := func(ctx context.Context, s ivSample) ([]ivStmt, error) {
		return []ivStmt{permissionsSQL(d.tenant, d.users[s.user], now(s))}, nil
	}
	return []ivShape{
		{name: "accounts-at", doc: "AccountsAt, page of 50, app weighted by rows, T uniform over the history", goal: true, byApp: true,
			gen: func(r *rand.Rand) ivSample { return ivSample{app: app(r), at: instant(r)} },
			run: accounts, path: accountsPath, stmts: accountsStmts},
		{name: "accounts-now", doc: "AccountsAt, page of 50, app weighted by rows, T = now", goal: true, byApp: true,
			gen: func(r *rand.Rand) ivSample { return ivSample{app: app(r)} },
			run: accounts, path: accountsPath, stmts: accountsStmts},
		{name: "permissions-at", doc: "PermissionsAt, random user, T uniform over the history", goal: true,
			gen: func(r *rand.Rand) ivSample { return ivSample{user: r.IntN(len(d.users)), at: instant(r)} },
			run: perms, path: permsPath, stmts: permsStmts},
		{name: "permissions-now", doc: "PermissionsAt, random user, T = now", goal: true,
			gen: func(r *rand.Rand) ivSample { return ivSample{user: r.IntN(len(d.users))} },
			run: perms, path: permsPath, stmts: permsStmts},
		{name: "changes-1d", doc: "AccessChanges, page of 50, app weighted by rows, [T, T+24h), T uniform", byApp: true,
			gen: func(r *rand.Rand) ivSample { return ivSample{app: app(r), at: day(r)} },
			run: func(ctx context.Context, s ivSample) (int, error) {
				p, err := e.db.AccessChanges(ctx, t, access.ChangeQuery{Request: page.Request{Limit: e.o.limit, Sort: "at"},
					App: access.AppID(d.apps[s.app].id), Since: s.at, Until: s.at.Add(24 * time.Hour)})
				return len(p.Items), err
			},
			path: func(s ivSample) string {
				return "/api/v1/reports/access-changes?" + url.Values{"application_id": {d.apps[s.app].id}, "limit": {strconv.Itoa(e.o.limit)},
					"since": {s.at.Format(time.RFC3339Nano)}, "until": {s.at.Add(24 * time.Hour).Format(time.RFC3339Nano)}}.Encode()
			},
			stmts: func(ctx context.Context, s ivSample) ([]ivStmt, error) {
				return []ivStmt{changesSQL(d.tenant, d.apps[s.app].id, s.at, s.at.Add(24*time.Hour), e.o.limit+1)}, nil
			}},
		{name: "seats-used", doc: "SeatsUsed, app weighted by rows", byApp: true,
			gen: func(r *rand.Rand) ivSample { return ivSample{app: app(r)} },
			run: func(ctx context.Context, s ivSample) (int, error) {
				n, err := e.db.SeatsUsed(ctx, t, access.AppID(d.apps[s.app].id))
				return n, err
			},
			path: func(s ivSample) string { return "/api/v1/applications/" + d.apps[s.app].id + "/seats" },
			stmts: func(ctx context.Context, s ivSample) ([]ivStmt, error) {
				return []ivStmt{seatsSQL(d.tenant, d.apps[s.app].id)}, nil
			}},
	}
}

// measure calls one shape warmup + n times, one after the other (within
// -max-time: a fifth of it for the warm-up, all of it for the calls), and
// explains its median and its slowest call if explain.
func (e *ivEnv) measure(ctx context.Context, s ivShape, k, warmup, n int, explain bool) (ivShapeResult, error) {
	rnd := rand.New(rand.NewPCG(e.o.seed, 100+uint64(k)))
	samples := make([]ivSample, warmup+n)
	for i := range samples {
		samples[i] = s.gen(rnd)
	}
	res := ivShapeResult{Shape: s.name, Doc: s.doc, Goal: s.goal}
	fail := func(err error) {
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	deadline := time.Now().Add(e.o.maxTime / 5) // warm-up gets a fifth of the bound, the calls all of it
	for _, smp := range samples[:warmup] {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if _, err := s.run(ctx, smp); err != nil {
			fail(err)
		}
	}
	type done struct {
		d time.Duration
		s ivSample
	}
	var calls []done
	items := 0
	c0, t0 := e.raw.readCPU(ctx), time.Now()
	deadline = t0.Add(e.o.maxTime)
	for _, smp := range samples[warmup:] {
		if time.Now().After(deadline) || ctx.Err() != nil {
			res.Stopped = true
			break
		}
		t := time.Now()
		n, err := s.run(ctx, smp)
		d := time.Since(t)
		if err != nil {
			fail(err)
			continue
		}
		items += n
		calls = append(calls, done{d, smp})
	}
	u := e.raw.since(ctx, c0)
	wall := time.Since(t0)
	if len(calls) == 0 {
		log.Printf("%s %s: no call finished within -max-time (%d errors %s)", e.res.DB, s.name, res.Errors, res.FirstError)
		return res, ctx.Err()
	}
	lats := make([]time.Duration, len(calls))
	buckets := map[string][]time.Duration{}
	for i, c := range calls {
		lats[i] = c.d
		if s.byApp {
			b := bucketOf(e.data.apps[c.s.app].rows)
			buckets[b] = append(buckets[b], c.d)
		}
	}
	nc := float64(len(calls))
	res.N, res.lat = len(calls), summarize(lats)
	res.ServerCPUms, res.DBCPUms = ms(u.server)/nc, ms(u.database)/nc
	res.OtherLoad = u.others(0).Seconds() / wall.Seconds()
	res.Items = float64(items) / nc
	res.Met = !s.goal || res.P95 <= 20
	for _, b := range []string{bucketHuge, bucketLarge, bucketSmall} {
		if len(buckets[b]) > 0 {
			res.Buckets = append(res.Buckets, ivBucket{Name: b, N: len(buckets[b]), lat: summarize(buckets[b])})
		}
	}
	log.Printf("%s %-16s p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %7.2f ms  server CPU %.2f ms  DB CPU %.2f ms  items %.1f  others %.2f cores (%d calls, %d errors %s)",
		e.res.DB, s.name, res.P50, res.P95, res.P99, res.Max, res.ServerCPUms, res.DBCPUms, res.Items, res.OtherLoad, res.N, res.Errors, res.FirstError)
	for _, b := range res.Buckets {
		log.Printf("    %-24s p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %7.2f ms (%d)", b.Name, b.P50, b.P95, b.P99, b.Max, b.N)
	}
	if explain && s.stmts != nil {
		sort.SliceStable(calls, func(i, j int) bool { return calls[i].d < calls[j].d })
		for _, pick := range []struct {
			label string
			c     done
		}{{"median call", calls[len(calls)/2]}, {"slowest call", calls[len(calls)-1]}} {
			ps, err := e.explainSample(ctx, s, pick.c.s, fmt.Sprintf("%s, %s (%.2f ms)", s.name, pick.label, ms(pick.c.d)))
			if err != nil {
				return res, fmt.Errorf("explain %s: %w", s.name, err)
			}
			e.res.Plans = append(e.res.Plans, ps...)
		}
	}
	return res, nil
}

func (e *ivEnv) explainSample(ctx context.Context, s ivShape, smp ivSample, label string) ([]plan, error) {
	stmts, err := s.stmts(ctx, smp)
	if err != nil {
		return nil, err
	}
	var out []plan
	for i, st := range stmts {
		p, err := e.raw.explainStmt(ctx, st)
		if err != nil {
			return nil, err
		}
		p.Shape = label + ": " + e.describeSample(s, smp)
		if len(stmts) > 1 {
			p.Shape += fmt.Sprintf(" — statement %d of %d", i+1, len(stmts))
		}
		out = append(out, p)
	}
	return out, nil
}

func (e *ivEnv) describeSample(s ivShape, smp ivSample) string {
	var parts []string
	if s.byApp {
		a := e.data.apps[smp.app]
		parts = append(parts, fmt.Sprintf("app %s (%d rows)", a.id, a.rows))
	} else {
		parts = append(parts, "user "+e.data.users[smp.user])
	}
	if !smp.at.IsZero() {
		parts = append(parts, fmt.Sprintf("T = %s (%.0f%% into the history)", smp.at.Format(time.RFC3339),
			100*float64(smp.at.Sub(e.data.start))/float64(e.data.now.Sub(e.data.start))))
	} else if s.name != "seats-used" {
		parts = append(parts, "T = now")
	}
	return strings.Join(parts, ", ")
}

// planSample captures one plan per shape for a representative call (the
// largest application, a user, the middle of the history).
func (e *ivEnv) planSample(ctx context.Context) []plan {
	big := 0
	for i, a := range e.data.apps {
		if a.rows > e.data.apps[big].rows {
			big = i
		}
	}
	mid := e.data.start.Add(e.data.now.Sub(e.data.start) / 2)
	var out []plan
	for _, s := range e.shapes() {
		smp := ivSample{app: big, user: len(e.data.users) / 2}
		if strings.HasSuffix(s.name, "-at") || s.name == "changes-1d" {
			smp.at = mid
		}
		ps, err := e.explainSample(ctx, s, smp, s.name)
		if err != nil {
			log.Printf("plan without statistics, %s: %v", s.name, err)
			continue
		}
		out = append(out, ps...)
	}
	return out
}

// httpPhase asks the same questions over HTTP through the real handler.
func (e *ivEnv) httpPhase(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: e.srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	client, err := startClient()
	if err != nil {
		return err
	}
	defer client.close()
	warmup := max(1, e.o.httpCalls/10)
	for k, s := range e.shapes() {
		if len(e.o.shapes) > 0 && !slices.Contains(e.o.shapes, s.name) {
			continue
		}
		rnd := rand.New(rand.NewPCG(e.o.seed, 200+uint64(k)))
		var paths []string
		for range warmup + e.o.httpCalls {
			paths = append(paths, s.path(s.gen(rnd)))
		}
		lr, err := getRun(ctx, e.raw, client, job{Op: "list", Base: base, Token: e.token, Paths: paths, Warmup: warmup, MaxTime: e.o.maxTime})
		if err != nil {
			return err
		}
		lr.Shape, lr.Doc = s.name, strings.SplitN(paths[warmup], "?", 2)[0]
		log.Printf("%s HTTP %-16s p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  server CPU %.2f ms/req  DB CPU %.2f ms/req  others %.2f cores (%d req, %d errors %s)",
			e.res.DB, s.name, lr.P50, lr.P95, lr.P99, lr.ServerCPUms, lr.DBCPUms, lr.OtherLoad, lr.N, lr.Errors, lr.FirstError)
		e.res.HTTP = append(e.res.HTTP, lr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
