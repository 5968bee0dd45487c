package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/user"
)

// dataset is what the query shapes draw their parameters from, read back
// from the seeded database (so that -reuse works the same way).
type dataset struct {
	tenant  string
	n       int
	orgs    []string
	groups  []string
	samples []sample  // about 2,000 users, every n/2000-th by id
	recent  time.Time // "recently updated" threshold: the seed time minus 24 hours
}

type sample struct {
	pos         int // position in id (= created) order
	id          string
	usernameKey string
	email       string
}

func loadDataset(ctx context.Context, raw *rawDB, tenant string, seededAt time.Time) (*dataset, error) {
	d := &dataset{tenant: tenant, recent: seededAt.Add(-24 * time.Hour)}
	for _, q := range []struct {
		sql string
		dst *[]string
	}{
		{`SELECT id FROM organizations WHERE tenant_id = $1 ORDER BY id`, &d.orgs},
		{`SELECT id FROM groups WHERE tenant_id = $1 ORDER BY id`, &d.groups},
	} {
		rows, err := raw.QueryContext(ctx, q.sql, tenant)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			*q.dst = append(*q.dst, s)
		}
		rows.Close()
	}
	n, err := raw.count(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = $1`, tenant)
	if err != nil {
		return nil, err
	}
	d.n = n
	every := max(1, n/2000)
	rows, err := raw.QueryContext(ctx, `SELECT id, username_key, COALESCE(email_key, '') FROM users WHERE tenant_id = $1 ORDER BY id`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		var s sample
		if err := rows.Scan(&s.id, &s.usernameKey, &s.email); err != nil {
			return nil, err
		}
		if i%every == every/2 {
			s.pos = i
			d.samples = append(d.samples, s)
		}
	}
	return d, rows.Err()
}

// shape is one kind of list request.
type shape struct {
	name, doc string
	params    func(r *rand.Rand) url.Values
}

func (d *dataset) shapes() []shape {
	org := func(r *rand.Rand) string { return d.orgs[r.IntN(len(d.orgs))] }
	withEmail := func(r *rand.Rand) sample {
		for {
			if s := d.samples[r.IntN(len(d.samples))]; s.email != "" {
				return s
			}
		}
	}
	deep := func(r *rand.Rand) sample { // beyond the first quarter of the id order
		q := len(d.samples) / 4
		return d.samples[q+r.IntN(len(d.samples)-q)]
	}
	v := func(kv ...string) url.Values {
		out := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	return []shape{
		{"first", "no filter, default sort (created)", func(*rand.Rand) url.Values { return v() }},
		{"status", "status=suspended", func(*rand.Rand) url.Values { return v("status", "suspended") }},
		{"org", "organization_id=X (random organization)", func(r *rand.Rand) url.Values { return v("organization_id", org(r)) }},
		{"org-status", "organization_id=X&status=suspended", func(r *rand.Rand) url.Values {
			return v("organization_id", org(r), "status", "suspended")
		}},
		{"prefix", "username_prefix=ab (default sort)", func(*rand.Rand) url.Values { return v("username_prefix", "ab") }},
		{"prefix-random", "username_prefix=first two letters of a random user's username, default sort",
			func(r *rand.Rand) url.Values {
				k := []rune(d.samples[r.IntN(len(d.samples))].usernameKey)
				return v("username_prefix", string(k[:min(2, len(k))]))
			}},
		{"prefix-created", "username_prefix=ab&sort=created", func(*rand.Rand) url.Values {
			return v("username_prefix", "ab", "sort", "created")
		}},
		{"prefix-sorted", "username_prefix=ab&sort=username", func(*rand.Rand) url.Values {
			return v("username_prefix", "ab", "sort", "username")
		}},
		{"email", "email=exact (random existing user)", func(r *rand.Rand) url.Values { return v("email", withEmail(r).email) }},
		{"group", "group_id=G (random group)", func(r *rand.Rand) url.Values { return v("group_id", d.groups[r.IntN(len(d.groups))]) }},
		{"updated-since", "updated_since=24 hours before seeding", func(*rand.Rand) url.Values {
			return v("updated_since", d.recent.Format(time.RFC3339))
		}},
		{"sort-username", "sort=username", func(*rand.Rand) url.Values { return v("sort", "username") }},
		{"sort-updated-desc", "sort=updated&order=desc", func(*rand.Rand) url.Values { return v("sort", "updated", "order", "desc") }},
		{"deep-created", "cursor at a random position past the first quarter, sort=created", func(r *rand.Rand) url.Values {
			return v("cursor", mintCursor("created", "", deep(r).id))
		}},
		{"deep-username", "cursor at a random user, sort=username", func(r *rand.Rand) url.Values {
			s := d.samples[r.IntN(len(d.samples))]
			return v("sort", "username", "cursor", mintCursor("username", s.usernameKey, s.id))
		}},
	}
}

// mintCursor makes the cursor a client holds after paging to (key, id). The
// format is the store's (base64url JSON {s, k, i}); checkCursor verifies that
// the server reads it as meant, so a format change fails the run loudly.
func mintCursor(sort, key, id string) string {
	b, _ := json.Marshal(struct {
		Sort string `json:"s"`
		Key  string `json:"k,omitempty"`
		ID   string `json:"i"`
	}{sort, key, id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// listSQL is the statement store.ListUsers runs for these parameters (a
// copy, for EXPLAIN: keep it in step with internal/store/users.go).
func listSQL(tenant string, v url.Values) (string, []any) {
	var args []any
	arg := func(x any) string { args = append(args, x); return "$" + strconv.Itoa(len(args)) }
	var where []string
	from, idCol := " FROM users u", "u.id"
	if g := v.Get("group_id"); g != "" {
		from = " FROM group_members m JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id"
		where = append(where, "m.tenant_id = "+arg(tenant)+" AND m.group_id = "+arg(g))
		idCol = "m.user_id"
	} else {
		where = append(where, "u.tenant_id = "+arg(tenant))
	}
	if s := v.Get("status"); s != "" {
		where = append(where, "u.status = "+arg(s))
	}
	if s := v.Get("organization_id"); s != "" {
		where = append(where, "u.organization_id = "+arg(s))
	}
	if s := v.Get("email"); s != "" {
		where = append(where, "u.email_key = "+arg(user.Key(s)))
	}
	if s := v.Get("username_prefix"); s != "" {
		p := user.Key(s)
		where = append(where, "u.username_key >= "+arg(p)+" AND u.username_key < "+arg(p+"\U0010FFFF"))
	}
	if s := v.Get("updated_since"); s != "" {
		t, _ := time.Parse(time.RFC3339, s)
		where = append(where, "u.updated_at >= "+arg(t.UTC().Format("2006-01-02T15:04:05.000000Z")))
	}
	sort := v.Get("sort")
	if sort == "" && v.Get("username_prefix") != "" {
		sort = "username" // user.Service.List: a prefix search sorts by username by default
	}
	keyCol := map[string]string{"": "", "created": "", "username": "u.username_key", "updated": "u.updated_at"}[sort]
	op, dir := ">", ""
	if v.Get("order") == "desc" {
		op, dir = "<", " DESC"
	}
	if c := v.Get("cursor"); c != "" {
		b, _ := base64.RawURLEncoding.DecodeString(c)
		var cur struct {
			Key string `json:"k"`
			ID  string `json:"i"`
		}
		_ = json.Unmarshal(b, &cur)
		if keyCol == "" {
			where = append(where, idCol+" "+op+" "+arg(cur.ID))
		} else {
			where = append(where, "("+keyCol+", "+idCol+") "+op+" ("+arg(cur.Key)+", "+arg(cur.ID)+")")
		}
	}
	order := " ORDER BY " + idCol + dir
	if keyCol != "" {
		order = " ORDER BY " + keyCol + dir + ", " + idCol + dir
	}
	cols := `u.tenant_id, u.id, u.username, u.emails, u.given_name, u.family_name, u.display_name, u.phone, u.locale,
	u.time_zone, u.attributes, COALESCE(u.organization_id, ''), u.source, u.status, u.locked, u.password_changed_at,
	u.status_changed_at, u.version, u.created_at, u.updated_at`
	return "SELECT " + cols + from + " WHERE " + strings.Join(where, " AND ") + order + " LIMIT " + arg(51), args
}

// plan is the query plan of one shape and the database's own time for it.
type plan struct {
	Shape  string   `json:"shape"`
	SQL    string   `json:"sql"`
	Args   []any    `json:"args"`
	Plan   []string `json:"plan"`
	Cached []string `json:"cached_plan,omitempty"` // Postgres: the plan a reused prepared statement settles on, if different
	DBTime float64  `json:"db_ms_median"`          // the bare statement, median of 15, on the raw connection
}

func (r *rawDB) explain(ctx context.Context, s shape, tenant string, rnd *rand.Rand) (plan, error) {
	q, args := listSQL(tenant, s.params(rnd))
	p := plan{Shape: s.name, SQL: q, Args: args}
	if r.dialect == "sqlite" {
		rows, err := r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			return p, err
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return p, err
			}
			p.Plan = append(p.Plan, detail)
		}
		rows.Close()
	} else {
		var err error
		if p.Plan, p.Cached, err = r.pgPlans(ctx, q, args); err != nil {
			return p, err
		}
	}
	var times []float64
	for range 15 {
		t0 := time.Now()
		rows, err := r.QueryContext(ctx, q, args...)
		if err != nil {
			return p, err
		}
		for rows.Next() {
		}
		rows.Close()
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(times)
	p.DBTime = times[len(times)/2]
	return p, nil
}

// pgPlans returns EXPLAIN ANALYZE of the statement with its values (a custom
// plan), and, when it differs, the plan a prepared statement settles on
// after the five custom plans PostgreSQL tries first: the store runs its
// queries as cached prepared statements (pgx), so that is what the server
// executes in the long run.
func (r *rawDB) pgPlans(ctx context.Context, q string, args []any) (custom, cached []string, err error) {
	conn, err := r.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	lines := func(q string, args ...any) ([]string, error) {
		rows, err := conn.QueryContext(ctx, q, args...)
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
	if custom, err = lines("EXPLAIN (ANALYZE, BUFFERS) "+q, args...); err != nil {
		return nil, nil, err
	}
	lits := make([]string, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case int:
			lits[i] = strconv.Itoa(a)
		default:
			lits[i] = "'" + strings.ReplaceAll(fmt.Sprint(a), "'", "''") + "'"
		}
	}
	if _, err := conn.ExecContext(ctx, "PREPARE bench_shape AS "+q); err != nil {
		return nil, nil, err
	}
	defer conn.ExecContext(ctx, "DEALLOCATE bench_shape")
	exec := "EXECUTE bench_shape(" + strings.Join(lits, ", ") + ")"
	for range 6 {
		if _, err := lines("EXPLAIN " + exec); err != nil {
			return nil, nil, err
		}
	}
	last, err := lines("EXPLAIN (ANALYZE, BUFFERS) " + exec)
	if err != nil {
		return nil, nil, err
	}
	if planShape(last) != planShape(custom) {
		cached = last
	}
	return custom, cached, nil
}

// planShape is a plan's nodes without numbers or conditions (which show
// values in a custom plan and $n in a generic one), to compare two plans.
func planShape(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 && !strings.Contains(l, "->") {
			continue
		}
		if j := strings.Index(l, "(cost="); j >= 0 {
			l = l[:j]
		}
		b.WriteString(strings.TrimSpace(l))
		b.WriteByte('\n')
	}
	return b.String()
}
