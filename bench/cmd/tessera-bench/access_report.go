package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// The statements the store runs for the access reports (copies, for EXPLAIN:
// keep them in step with internal/store/intervals.go).

type ivStmt struct {
	SQL  string
	Args []any
}

// ivCoversByKey is the store's coversByKey: on SQLite a unary + keeps the
// planner on the primary key's user order.
func ivCoversByKey(dialect string) string {
	if dialect == "sqlite" {
		return `+valid_from <= $1 AND (+valid_to IS NULL OR +valid_to > $1)`
	}
	return `valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)`
}

// accessSpanSQL is AccountsAt's first statement: could anyone have held app
// at the instant (first grant, last end, anything open)?
func accessSpanSQL(t, app string) ivStmt {
	return ivStmt{`SELECT
		(SELECT MIN(valid_from) FROM access_intervals WHERE tenant_id = $1 AND app_id = $2),
		(SELECT MAX(valid_to) FROM access_intervals WHERE tenant_id = $1 AND app_id = $2 AND valid_to IS NOT NULL),
		EXISTS (SELECT 1 FROM access_intervals WHERE tenant_id = $1 AND app_id = $2 AND valid_to IS NULL)`, []any{t, app}}
}

// accountsIDsSQL is AccountsAt's page of users.
func accountsIDsSQL(dialect, t, app string, at time.Time, limit int) ivStmt {
	return ivStmt{`SELECT DISTINCT user_id FROM access_intervals WHERE tenant_id = $2 AND app_id = $3 AND ` + ivCoversByKey(dialect) +
		` ORDER BY user_id LIMIT $4`, []any{ivTime(at), t, app, limit}}
}

// accountsDetailSQL is AccountsAt's last statement: those users' grants.
func accountsDetailSQL(dialect, t, app string, at time.Time, ids []string) ivStmt {
	args := []any{ivTime(at), t, app}
	in := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		in[i] = fmt.Sprintf("$%d", len(args))
	}
	return ivStmt{`SELECT user_id, app_role, via_type, via_id, valid_from, valid_to FROM access_intervals WHERE tenant_id = $2 AND app_id = $3 AND ` +
		ivCoversByKey(dialect) + ` AND user_id IN (` + strings.Join(in, ", ") + `) ORDER BY user_id, app_role, via_type, via_id`, args}
}

func permissionsSQL(t, u string, at time.Time) ivStmt {
	return ivStmt{`SELECT app_id, app_role, via_type, via_id, valid_from, valid_to FROM access_intervals
		WHERE tenant_id = $1 AND user_id = $2 AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3) ORDER BY app_id, app_role, via_type, via_id`,
		[]any{t, u, ivTime(at)}}
}

func changesSQL(t, app string, since, until time.Time, limit int) ivStmt {
	return ivStmt{`SELECT at, kind, user_id, app_role, via_type, via_id FROM (
		SELECT valid_from AS at, 'granted' AS kind, user_id, app_role, via_type, via_id FROM access_intervals
			WHERE tenant_id = $1 AND app_id = $2 AND valid_from >= $3 AND valid_from < $4
		UNION ALL
		SELECT valid_to, 'revoked', user_id, app_role, via_type, via_id FROM access_intervals
			WHERE tenant_id = $1 AND app_id = $2 AND valid_to >= $3 AND valid_to < $4
		) c ORDER BY at, kind, user_id, app_role, via_type, via_id LIMIT $5`, []any{t, app, ivTime(since), ivTime(until), limit}}
}

func seatsSQL(t, app string) ivStmt {
	return ivStmt{`SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM access_intervals
		WHERE tenant_id = $1 AND app_id = $2 AND valid_to IS NULL) s`, []any{t, app}}
}

// explainStmt returns a statement's plan (EXPLAIN QUERY PLAN as a tree on
// SQLite; on PostgreSQL EXPLAIN (ANALYZE, BUFFERS) and the generic plan if it
// differs, see pgPlans) and the median time of 5 bare runs on the raw
// connection.
func (r *rawDB) explainStmt(ctx context.Context, st ivStmt) (plan, error) {
	p := plan{SQL: st.SQL, Args: st.Args}
	if r.dialect == "sqlite" {
		rows, err := r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+st.SQL, st.Args...)
		if err != nil {
			return p, err
		}
		depth := map[int]int{0: -1}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return p, err
			}
			depth[id] = depth[parent] + 1
			p.Plan = append(p.Plan, strings.Repeat("  ", depth[id])+detail)
		}
		rows.Close()
	} else {
		var err error
		if p.Plan, p.Cached, err = r.pgPlans(ctx, st.SQL, st.Args); err != nil {
			return p, err
		}
	}
	var times []float64
	for range 5 {
		t0 := time.Now()
		rows, err := r.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return p, err
		}
		for rows.Next() {
		}
		rows.Close()
		times = append(times, ms(time.Since(t0)))
	}
	sort.Float64s(times)
	p.DBTime = times[len(times)/2]
	return p, nil
}

// strings returns the first column of a query's rows.
func (r *rawDB) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// settings are the database settings the plans depend on.
func (r *rawDB) settings(ctx context.Context) map[string]string {
	out := map[string]string{}
	names := []string{"page_size", "cache_size", "journal_mode", "mmap_size"}
	if r.dialect == "postgres" {
		names = []string{"shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit", "plan_cache_mode", "max_parallel_workers_per_gather"}
	}
	for _, n := range names {
		q := "PRAGMA " + n
		if r.dialect == "postgres" {
			q = "SHOW " + n
		}
		var v string
		if err := r.QueryRowContext(ctx, q).Scan(&v); err == nil {
			out[n] = v
		}
	}
	return out
}

type ivReport struct {
	Machine map[string]string `json:"machine"`
	Options map[string]any    `json:"options"`
	Results []*ivDBResult     `json:"results"`
}

type ivSeed struct {
	Reused         bool       `json:"reused"`
	Seconds        float64    `json:"seconds"`       // everything
	SetupSeconds   float64    `json:"setup_seconds"` // users, groups, organizations, business roles, applications
	InsertedRows   int        `json:"inserted_rows"`
	InsertSeconds  float64    `json:"insert_seconds"`
	InsertWorkers  int        `json:"insert_workers"`
	Indexes        []indexDef `json:"indexes"`
	IndexSeconds   float64    `json:"index_seconds"`
	AnalyzeSeconds float64    `json:"analyze_seconds"`
}

type ivDBResult struct {
	DB            string            `json:"db"`
	Version       string            `json:"version"`
	Settings      map[string]string `json:"settings"`
	Rows          int               `json:"rows"`
	OpenRows      int               `json:"open_rows"`
	Users         int               `json:"users"`
	Apps          int               `json:"apps"`
	AppsHuge      int               `json:"apps_1m_plus"`
	AppsLarge     int               `json:"apps_100k_1m"`
	AppRowsMax    int               `json:"app_rows_max"`
	AppRowsMedian int               `json:"app_rows_median"`
	AppRowsMin    int               `json:"app_rows_min"`
	Start         time.Time         `json:"history_start"`
	Now           time.Time         `json:"history_end"`
	SizeBytes     int64             `json:"size_bytes"`
	Seed          ivSeed            `json:"seed"`
	NoStats       []ivShapeResult   `json:"shapes_without_statistics,omitempty"` // SQLite before ANALYZE
	Shapes        []ivShapeResult   `json:"shapes"`
	HTTP          []listResult      `json:"http"`
	Plans         []plan            `json:"plans"`
	NoStatsPlans  []plan            `json:"plans_without_statistics,omitempty"`
}

type ivShapeResult struct {
	Shape      string `json:"shape"`
	Doc        string `json:"doc"`
	Goal       bool   `json:"in_goal"`
	Met        bool   `json:"met"`
	N          int    `json:"calls"`
	Stopped    bool   `json:"stopped_by_max_time"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	lat
	ServerCPUms float64    `json:"server_cpu_ms_per_call"`
	DBCPUms     float64    `json:"db_cpu_ms_per_call"`
	Items       float64    `json:"items_per_call"`
	OtherLoad   float64    `json:"other_load_cores"`
	Buckets     []ivBucket `json:"by_app_size,omitempty"`
}

type ivBucket struct {
	Name string `json:"name"`
	N    int    `json:"calls"`
	lat
}

// write prints the report as Markdown.
func (r ivReport) write(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\n## tessera-bench access %s\n\n", m["date"])
	fmt.Fprintf(w, "Machine: %s × %s (%s MHz), %s, %s, GOMAXPROCS %d. Load average at start: %s.\n\n",
		m["cpu"], m["cpus"], m["cpu_mhz"], m["memory"], runtime.Version(), runtime.GOMAXPROCS(0), m["loadavg_at_start"])
	fmt.Fprintf(w, "Options: %v\n", r.Options)
	for _, d := range r.Results {
		fmt.Fprintf(w, "\n### %s: %s\n\n", d.DB, d.Version)
		fmt.Fprintf(w, "Settings: %v.\n\n", d.Settings)
		fmt.Fprintf(w, "%d access_intervals rows (%d open) over %s .. %s; %d users; %d applications (%d with 1M+ rows, %d with 100k-1M; largest %d, median %d, smallest %d); %s on disk.\n",
			d.Rows, d.OpenRows, d.Start.Format(time.DateOnly), d.Now.Format(time.DateOnly), d.Users, d.Apps, d.AppsHuge, d.AppsLarge,
			d.AppRowsMax, d.AppRowsMedian, d.AppRowsMin, fmtBytes(d.SizeBytes))
		s := d.Seed
		if s.Reused {
			fmt.Fprintf(w, "Reused an earlier seeding; ANALYZE %.1f s.\n", s.AnalyzeSeconds)
		} else {
			fmt.Fprintf(w, "Seeded in %.0f s: users, groups, applications %.0f s; %d intervals inserted in %.0f s (%.0f rows/s, %d writer(s)); %d secondary indexes built in %.0f s (",
				s.Seconds, s.SetupSeconds, s.InsertedRows, s.InsertSeconds, float64(s.InsertedRows)/s.InsertSeconds, s.InsertWorkers, len(s.Indexes), s.IndexSeconds)
			for i, x := range s.Indexes {
				if i > 0 {
					fmt.Fprint(w, ", ")
				}
				fmt.Fprintf(w, "%s %.0f s", x.Name, x.Seconds)
			}
			fmt.Fprintf(w, "); ANALYZE %.1f s.\n", s.AnalyzeSeconds)
		}
		writeShapes := func(title string, shapes []ivShapeResult) {
			if len(shapes) == 0 {
				return
			}
			fmt.Fprintf(w, "\n%s\n", title)
			fmt.Fprintf(w, "\n| shape (store method) | calls | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/call | DB CPU ms/call | items | others' load | goal p95 ≤ 20 ms |\n")
			fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
			for _, x := range shapes {
				errs := ""
				if x.Errors > 0 {
					errs = fmt.Sprintf(" (%d errors: %s)", x.Errors, x.FirstError)
				}
				if x.Stopped {
					errs += " (stopped by -max-time)"
				}
				goal := "not in the goal"
				if x.Goal && x.Met {
					goal = "**met**"
				} else if x.Goal {
					goal = "**missed**"
				} else if x.P95 > 20 {
					goal = "not in the goal (over 20 ms)"
				}
				fmt.Fprintf(w, "| %s: %s%s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.2f | %s |\n", x.Shape, x.Doc, errs, x.N,
					x.P50, x.P95, x.P99, x.Max, x.ServerCPUms, x.DBCPUms, x.Items, x.OtherLoad, goal)
			}
			fmt.Fprintf(w, "\n| shape | application size | calls | p50 ms | p95 ms | p99 ms | max ms |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
			for _, x := range shapes {
				for _, b := range x.Buckets {
					fmt.Fprintf(w, "| %s | %s | %d | %.2f | %.2f | %.2f | %.2f |\n", x.Shape, b.Name, b.N, b.P50, b.P95, b.P99, b.Max)
				}
			}
		}
		writeShapes("Before ANALYZE (the store never runs it: this is what a production SQLite file plans with):", d.NoStats)
		writeShapes("After ANALYZE:", d.Shapes)
		if len(d.HTTP) > 0 {
			fmt.Fprintf(w, "\n| over HTTP | requests | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/req | DB CPU ms/req | items | bytes | others' load |\n")
			fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			for _, l := range d.HTTP {
				errs := ""
				if l.Errors > 0 {
					errs = fmt.Sprintf(" (%d errors: %s)", l.Errors, l.FirstError)
				}
				fmt.Fprintf(w, "| %s `%s`%s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %.2f |\n", l.Shape, l.Doc, errs, l.N,
					l.P50, l.P95, l.P99, l.Max, l.ServerCPUms, l.DBCPUms, l.Items, l.Bytes, l.OtherLoad)
			}
		}
		writePlans := func(title string, ps []plan) {
			for _, p := range ps {
				fmt.Fprintf(w, "\n#### %s%s (bare statement %.2f ms, median of 5)\n\n```\n%s\n```\n", title, p.Shape, p.DBTime, strings.Join(p.Plan, "\n"))
				if len(p.Cached) > 0 {
					fmt.Fprintf(w, "\nAs a reused prepared statement (generic plan):\n\n```\n%s\n```\n", strings.Join(p.Cached, "\n"))
				}
			}
		}
		writePlans("plan without statistics (before ANALYZE): ", d.NoStatsPlans)
		writePlans("plan: ", d.Plans)
	}
}
