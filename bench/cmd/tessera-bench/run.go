package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/server"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

const seededAtKey = "bench.seeded_at"

// benchMasterKey is fixed so that a -reuse run opens the database it seeded.
func benchMasterKey() config.Secret {
	k := sha256.Sum256([]byte("tessera-bench master key: benchmark databases only"))
	return config.Secret(base64.StdEncoding.EncodeToString(k[:]))
}

// env is one database under test with the server on it.
type env struct {
	o      options
	db     *store.DB
	raw    *rawDB
	srv    *server.Server
	tenant tenant.ID
	base   string
	token  string
	data   *dataset
	client *loadClient
	res    *dbResult
}

func runDB(ctx context.Context, o options, name string) (*dbResult, error) {
	e := &env{o: o, res: &dbResult{DB: name}}
	target, db, raw, err := openDatabases(ctx, name, o.dir, o.postgresURL, o.pgDatabase, o.reuse)
	if err != nil {
		return nil, err
	}
	e.db, e.raw = db, raw
	defer func() { e.db.Close() }()
	defer raw.Close()
	e.res.Version = e.raw.version(ctx)

	if e.srv, e.tenant, e.token, err = bootServer(ctx, filepath.Join(o.dir, name+"-data"), e.db); err != nil {
		return nil, err
	}
	if err := e.seed(ctx); err != nil {
		return nil, err
	}
	// Measure on fresh connections: an SQLite connection keeps the
	// statistics it loaded with the schema, so one opened before ANALYZE
	// (or before sqlite_stat1 was dropped) would plan with stale ones.
	e.db.Close()
	if e.db, err = store.Open(ctx, target); err != nil {
		return nil, err
	}
	if e.srv, e.tenant, e.token, err = bootServer(ctx, filepath.Join(o.dir, name+"-data"), e.db); err != nil {
		return nil, err
	}
	if err := e.serve(ctx); err != nil {
		return nil, err
	}
	return e.res, nil
}

// bootServer starts Tessera on db as a first start does (migrations, the
// default tenant) and issues an admin API token in that tenant.
func bootServer(ctx context.Context, dataDir string, db *store.DB) (*server.Server, tenant.ID, string, error) {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.MasterKey = benchMasterKey()
	// Production's text log at info, written nowhere: the formatting is paid.
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(ctx, cfg, logger, db, nil)
	if err != nil {
		return nil, "", "", err
	}
	if err := srv.Bootstrap(ctx, io.Discard); err != nil {
		return nil, "", "", err
	}
	t, err := srv.Tenants.TenantBySlug(ctx, server.DefaultTenant)
	if err != nil {
		return nil, "", "", err
	}
	_, token, err := srv.CreateToken(ctx, server.DefaultTenant, apitoken.NewToken{Name: "bench", Role: apitoken.Admin})
	if err != nil {
		return nil, "", "", err
	}
	return srv, t.ID, token, nil
}

// seed fills an empty database with o.users users, or checks a reused one.
func (e *env) seed(ctx context.Context) error {
	have, err := e.raw.count(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = $1`, e.tenant)
	if err != nil {
		return err
	}
	seededAt, ok, err := e.db.SystemSetting(ctx, seededAtKey)
	if err != nil {
		return err
	}
	switch {
	case have == 0:
		now := server.Now()
		p := newPopulation(e.o.users, e.o.seed, now, e.o.memberFrac)
		t0 := time.Now()
		if err := seedOrgsAndGroups(ctx, e.srv, e.tenant, p, e.o.orgs, e.o.groups); err != nil {
			return err
		}
		workers := 1
		if e.res.DB == "postgres" {
			workers = e.o.pgWorkers
		}
		log.Printf("%s: seeding %d users, %d per transaction, %d writer(s)", e.res.DB, e.o.users, e.o.batch, workers)
		// Statistics after the first batches: PostgreSQL plans a foreign
		// key's look-up once per connection, and on never-analyzed tables it
		// picks users_updated (tenant_id, updated_at, id) with id as a mere
		// index filter (and groups_name_key_uq for groups), so each check
		// scans the tenant's rows until the plan is invalidated. With
		// autovacuum off, as on this CI server, nothing else would.
		first := min(2*e.o.batch, e.o.users)
		if err := seedRange(ctx, e.db, e.tenant, p, 0, first, e.o.batch, 1); err != nil {
			return err
		}
		if err := e.raw.analyze(ctx); err != nil {
			return err
		}
		if err := seedRange(ctx, e.db, e.tenant, p, first, e.o.users, e.o.batch, workers); err != nil {
			return err
		}
		e.res.Seed.Seconds = time.Since(t0).Seconds()
		e.res.Seed.Workers = workers
		if seededAt, err = e.db.PutSystemSettingIfAbsent(ctx, seededAtKey, now.Format(time.RFC3339Nano)); err != nil {
			return err
		}
	case !ok || have < e.o.users:
		return fmt.Errorf("the database holds %d users, not the %d asked for: run without -reuse", have, e.o.users)
	default:
		e.res.Seed.Reused = true
		log.Printf("%s: reusing %d seeded users", e.res.DB, have)
	}
	t0 := time.Now()
	if err := e.raw.analyze(ctx); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	e.res.Seed.AnalyzeSeconds = time.Since(t0).Seconds()
	if e.res.DB == "sqlite" && !e.o.sqliteStats {
		// Tessera itself never runs ANALYZE on SQLite: measure as it runs.
		if err := e.raw.dropStats(ctx); err != nil {
			return err
		}
		e.res.Seed.NoStats = true
	}
	at, err := time.Parse(time.RFC3339Nano, seededAt)
	if err != nil {
		return err
	}
	if e.data, err = loadDataset(ctx, e.raw, string(e.tenant), at); err != nil {
		return err
	}
	e.res.Users, e.res.Orgs, e.res.Groups = e.data.n, len(e.data.orgs), len(e.data.groups)
	e.res.Memberships, _ = e.raw.count(ctx, `SELECT COUNT(*) FROM group_members WHERE tenant_id = $1`, e.tenant)
	e.res.SizeBytes = e.raw.size(ctx)
	log.Printf("%s: %d users, %d memberships, %s on disk", e.res.DB, e.res.Users, e.res.Memberships, fmtBytes(e.res.SizeBytes))
	return nil
}

// serve starts the HTTP server on a loopback port and the load generator,
// and runs the phases.
func (e *env) serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: e.srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go hs.Serve(ln)
	defer hs.Close()
	e.base = "http://" + ln.Addr().String()
	if e.client, err = startClient(); err != nil {
		return err
	}
	defer e.client.close()
	defer func() {
		if err := e.raw.cleanup(context.WithoutCancel(ctx), string(e.tenant)); err != nil {
			log.Printf("clean-up: %v", err)
		}
	}()
	if e.o.has("list") {
		if err := e.listPhase(ctx); err != nil {
			return err
		}
	}
	if e.o.explain {
		if err := e.explainPhase(ctx); err != nil {
			return err
		}
	}
	if e.o.has("create") {
		if err := e.createPhase(ctx); err != nil {
			return err
		}
	}
	if e.o.has("commit") {
		r := e.commitRun(ctx, e.o.clients, e.o.commitFor)
		e.res.Commit = &r
	}
	if e.o.has("password") {
		if err := e.passwordPhase(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (e *env) wanted(s shape) bool {
	return len(e.o.shapes) == 0 || slices.Contains(e.o.shapes, s.name)
}

func (e *env) listPhase(ctx context.Context) error {
	if err := e.checkCursors(ctx); err != nil {
		return err
	}
	for k, s := range e.data.shapes() {
		if !e.wanted(s) {
			continue
		}
		rnd := rand.New(rand.NewPCG(e.o.seed, uint64(k)))
		var paths []string
		for range e.o.listWarmup + e.o.listRequests {
			q := s.params(rnd)
			p := "/api/v1/users"
			if len(q) > 0 {
				p += "?" + q.Encode()
			}
			paths = append(paths, p)
		}
		waitQuiet(ctx, e.o.idleBelow, e.o.idleWait)
		lr, err := getRun(ctx, e.raw, e.client, job{Op: "list", Base: e.base, Token: e.token, Paths: paths, Warmup: e.o.listWarmup,
			MaxTime: e.o.listMaxTime})
		if err != nil {
			return err
		}
		lr.Shape, lr.Doc = s.name, s.doc
		log.Printf("%s list %-17s p50 %6.2f ms  p95 %6.2f ms  p99 %6.2f ms  server CPU %.2f ms/req  others %.2f cores (%d req, %d errors %s)",
			e.res.DB, s.name, lr.P50, lr.P95, lr.P99, lr.ServerCPUms, lr.OtherLoad, lr.N, lr.Errors, lr.FirstError)
		e.res.List = append(e.res.List, lr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// getRun has the load client send j's GET requests one after the other and
// summarizes their latency, and the CPU the server and the database spent
// per request.
func getRun(ctx context.Context, raw *rawDB, client *loadClient, j job) (listResult, error) {
	c0, t0 := raw.readCPU(ctx), time.Now()
	r, err := client.do(j)
	if err != nil {
		return listResult{}, err
	}
	u := raw.since(ctx, c0)
	// CPU is read around warm-up and measured requests alike.
	all := float64(min(len(j.Paths), r.Count+j.Warmup))
	lr := listResult{N: r.Count, Errors: r.Errors, FirstError: r.FirstError,
		lat: summarize(r.Latencies), ServerCPUms: ms(u.server) / all, DBCPUms: ms(u.database) / all,
		ClientCPUms: ms(r.ClientCPU) / all, OtherLoad: u.others(r.ClientCPU).Seconds() / time.Since(t0).Seconds()}
	if r.Count > 0 {
		lr.Items, lr.Bytes = float64(r.Items)/float64(r.Count), r.Bytes/int64(r.Count)
	}
	return lr, nil
}

// checkCursors makes sure the minted deep cursors mean what they should.
func (e *env) checkCursors(ctx context.Context) error {
	s := e.data.samples[len(e.data.samples)/2]
	for _, c := range []struct{ sort, key, query string }{
		{"created", "", "cursor=" + mintCursor("created", "", s.id)},
		{"username", s.usernameKey, "sort=username&cursor=" + mintCursor("username", s.usernameKey, s.id)},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/api/v1/users?limit=1&"+c.query, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var page struct {
			Items []struct{ ID, Username string }
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || len(page.Items) != 1 {
			return fmt.Errorf("deep cursor (sort=%s): status %d, %v: the store's cursor format changed? see mintCursor", c.sort, res.StatusCode, err)
		}
		got := page.Items[0]
		if (c.sort == "created" && got.ID <= s.id) || (c.sort == "username" && user.Key(got.Username) <= c.key) {
			return fmt.Errorf("deep cursor (sort=%s) after %s returned %s: the store's cursor format changed? see mintCursor", c.sort, s.id, got.ID)
		}
	}
	return nil
}

func (e *env) explainPhase(ctx context.Context) error {
	for k, s := range e.data.shapes() {
		if !e.wanted(s) {
			continue
		}
		p, err := e.raw.explain(ctx, s, string(e.tenant), rand.New(rand.NewPCG(e.o.seed+1, uint64(k))))
		if err != nil {
			return fmt.Errorf("explain %s: %w", s.name, err)
		}
		e.res.Plans = append(e.res.Plans, p)
	}
	return nil
}

// createPhase posts new users from o.clients clients: plain tenant-level
// users first, then users in a random organization (the organization check
// adds a read inside the write transaction).
func (e *env) createPhase(ctx context.Context) error {
	for _, run := range []struct {
		name string
		orgs []string
	}{{"plain", nil}, {"with organization_id", e.data.orgs}} {
		prefix := fmt.Sprintf("load.%d.%s.", time.Now().UnixNano(), strings.Fields(run.name)[0])
		waitQuiet(ctx, e.o.idleBelow, e.o.idleWait)
		c0 := e.raw.readCPU(ctx)
		r, err := e.client.do(job{Op: "create", Base: e.base, Token: e.token, Clients: e.o.clients, Prefix: prefix,
			Orgs: run.orgs, Duration: e.o.createFor})
		if err != nil {
			return err
		}
		u := e.raw.since(ctx, c0)
		cr := createResult{Name: run.name, Clients: e.o.clients, Count: r.Count, Errors: r.Errors, FirstError: r.FirstError,
			Wall: r.Wall.Seconds(), ServerCPU: u.server.Seconds(), DBCPU: u.database.Seconds(), ClientCPU: r.ClientCPU.Seconds(),
			OtherLoad: u.others(r.ClientCPU).Seconds() / r.Wall.Seconds(), lat: summarize(r.Latencies)}
		cr.PerSec = float64(r.Count) / r.Wall.Seconds()
		cr.PerServerCPUSec = float64(r.Count) / (cr.ServerCPU + cr.DBCPU)
		log.Printf("%s create (%s): %.0f users/s, %.0f per server CPU-second, p95 %.1f ms, others %.2f cores (%d errors %s)",
			e.res.DB, run.name, cr.PerSec, cr.PerServerCPUSec, cr.P95, cr.OtherLoad, r.Errors, r.FirstError)
		e.res.Create = append(e.res.Create, cr)
	}
	return nil
}

// commitRun is the store's primitive: InTx around one one-row INSERT (a
// tenant setting under a fresh key), from workers goroutines for d.
func (e *env) commitRun(ctx context.Context, workers int, d time.Duration) rateResult {
	var n, errs atomic.Int64
	var wg sync.WaitGroup
	waitQuiet(ctx, e.o.idleBelow, e.o.idleWait)
	c0 := e.raw.readCPU(ctx)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				key := fmt.Sprintf("bench.commit.%d.%d.%d", start.UnixNano(), w, i)
				err := e.db.InTx(ctx, func(ctx context.Context) error { return e.db.PutSetting(ctx, e.tenant, key, i) })
				if err != nil {
					errs.Add(1)
					continue
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	u := e.raw.since(ctx, c0)
	r := rateResult{Name: "commit (InTx + one-row INSERT)", Workers: workers, Count: int(n.Load()), Errors: int(errs.Load()),
		Wall: wall.Seconds(), ServerCPU: u.server.Seconds(), DBCPU: u.database.Seconds(), OtherLoad: u.others(0).Seconds() / wall.Seconds()}
	r.PerSec = float64(r.Count) / r.Wall
	r.PerCPUSec = float64(r.Count) / (r.ServerCPU + r.DBCPU)
	log.Printf("%s commit: %.0f/s, %.0f per CPU-second, others %.2f cores", e.res.DB, r.PerSec, r.PerCPUSec, r.OtherLoad)
	return r
}

// passwordPhase compares user.Service.CheckPassword at the configured
// (default) argon2id parameters with the raw derivation: one at a time,
// interleaved, for the latency ratio; then each from several goroutines for
// throughput and CPU. There is no sign-in endpoint yet, so this runs in
// process, through the service the API and login pages share.
func (e *env) passwordPhase(ctx context.Context) error {
	const login, plain = "bench.password", "correct horse battery staple"
	_, err := e.srv.Users.Create(ctx, tenant.Scope{Tenant: e.tenant}, user.NewUser{Username: login, Password: plain})
	if err != nil && !errors.Is(err, user.ErrUsernameTaken) {
		return err
	}
	p := password.DefaultParams()
	salt := []byte("0123456789abcdef")
	raw := func() { argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, 32) }
	check := func() error {
		_, err := e.srv.Users.CheckPassword(ctx, e.tenant, login, plain)
		return err
	}
	if err := check(); err != nil {
		return err
	}
	pr := &passwordResult{Params: fmt.Sprintf("m=%d KiB, t=%d, p=%d", p.Memory, p.Time, p.Threads)}
	// One at a time, in rounds of: a raw derivation, then the reads a
	// check makes before it verifies (timed alone: right after argon2id has
	// swept the caches, as in a series of checks), then a whole check.
	// reads ÷ raw is the overhead measured directly, with little noise;
	// check ÷ raw − 1 is the same figure as a difference of two large,
	// noisy times. CPU time (this process's, plus the database backends'
	// over the loop, which only reads and checks use) is what other work on
	// a shared machine disturbs least.
	reads := func() error {
		u, err := e.db.UserByKey(ctx, e.tenant, user.Key(login))
		if err != nil {
			return err
		}
		_, err = e.db.PasswordHashes(ctx, e.tenant, u.ID, 0)
		return err
	}
	var rawT, readT, checkT, rawCPU, checkCPU time.Duration
	var pairs []float64 // check ÷ raw per round
	waitQuiet(ctx, e.o.idleBelow, e.o.idleWait)
	c0, start := e.raw.readCPU(ctx), time.Now()
	deadline := start.Add(e.o.passwordFor)
	for pr.Iterations = 0; pr.Iterations < 20 || time.Now().Before(deadline); pr.Iterations++ {
		u0, t0 := selfCPU(), time.Now()
		raw()
		u1, t1 := selfCPU(), time.Now()
		if err := reads(); err != nil {
			return err
		}
		u2, t2 := selfCPU(), time.Now()
		if err := check(); err != nil {
			return err
		}
		t3 := time.Now()
		rawT, readT, checkT = rawT+t1.Sub(t0), readT+t2.Sub(t1), checkT+t3.Sub(t2)
		rawCPU, checkCPU = rawCPU+u1-u0, checkCPU+selfCPU()-u2
		pairs = append(pairs, float64(t3.Sub(t2))/float64(t1.Sub(t0)))
	}
	u := e.raw.since(ctx, c0)
	n := float64(pr.Iterations)
	pr.RawMs, pr.ReadsMs, pr.CheckMs = ms(rawT)/n, ms(readT)/n, ms(checkT)/n
	pr.DirectOverheadPct = float64(readT) / float64(rawT) * 100
	pr.OverheadPct = (float64(checkT)/float64(rawT) - 1) * 100
	slices.Sort(pairs)
	pr.MedianPairPct = (pairs[len(pairs)/2] - 1) * 100
	// The backends' CPU over the loop served the reads and the checks alike:
	// half of it is the checks'.
	pr.RawCPUms, pr.CheckCPUms = ms(rawCPU)/n, ms(checkCPU+u.database/2)/n
	pr.CPUOverheadPct = (float64(checkCPU+u.database/2)/float64(rawCPU) - 1) * 100
	pr.SerialOtherLoad = u.others(0).Seconds() / time.Since(start).Seconds()
	rate := func(name string, workers int, fn func() error) rateResult {
		var n atomic.Int64
		var wg sync.WaitGroup
		waitQuiet(ctx, e.o.idleBelow, e.o.idleWait)
		c0 := e.raw.readCPU(ctx)
		start := time.Now()
		end := start.Add(e.o.passwordFor)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) && ctx.Err() == nil {
					if fn() == nil {
						n.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		u := e.raw.since(ctx, c0)
		wall := time.Since(start)
		r := rateResult{Name: name, Workers: workers, Count: int(n.Load()), Wall: wall.Seconds(),
			ServerCPU: u.server.Seconds(), DBCPU: u.database.Seconds(), OtherLoad: u.others(0).Seconds() / wall.Seconds()}
		r.PerSec, r.PerCPUSec = float64(r.Count)/r.Wall, float64(r.Count)/(r.ServerCPU+r.DBCPU)
		return r
	}
	pr.Checks = rate("CheckPassword", e.o.clients, check)
	pr.Raw = rate("argon2.IDKey", runtime.GOMAXPROCS(0), func() error { raw(); return nil })
	// Hasher.Verify alone (no reads): splits a throughput gap between the
	// store and the hashing path.
	pu, err := e.db.UserByKey(ctx, e.tenant, user.Key(login))
	if err != nil {
		return err
	}
	hashes, err := e.db.PasswordHashes(ctx, e.tenant, pu.ID, 0)
	if err != nil {
		return err
	}
	pr.Verify = rate("Hasher.Verify", runtime.GOMAXPROCS(0), func() error {
		_, _, err := e.srv.Users.Hasher.Verify(ctx, hashes[0], plain)
		return err
	})
	log.Printf("%s password: raw %.2f ms, reads %.3f ms (%.1f%%), check %.2f ms (%+.1f%%, median round %+.1f%%), CPU %+.1f%%, others %.2f cores; %.1f checks/s vs %.1f raw/s",
		e.res.DB, pr.RawMs, pr.ReadsMs, pr.DirectOverheadPct, pr.CheckMs, pr.OverheadPct, pr.MedianPairPct, pr.CPUOverheadPct,
		pr.SerialOtherLoad, pr.Checks.PerSec, pr.Raw.PerSec)
	e.res.Password = pr
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
