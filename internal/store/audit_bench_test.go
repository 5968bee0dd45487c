package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// The audit benchmarks (docs/benchmarks.md, "Audit log"):
//
//	BenchmarkAuditAppend   events/s, one event per transaction, 1 or 8 writers,
//	                       into one tenant or 8 (PostgreSQL: tenants never wait for each other)
//	BenchmarkAuditUserUpdate  a user update with and without its audit event,
//	                       alternated, at the store and through the API, and the overhead
//	BenchmarkAuditVerify   events/s of verification reading the database
//
// PostgreSQL runs when TESSERA_TEST_POSTGRES (or CI) says where.

func benchEachDB(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, testkit.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES to run the PostgreSQL benchmarks")
		}
		fn(b, testkit.OpenPostgres(b, u))
	})
}

func benchEvent(ctx context.Context, tn string, i int64) *audit.Event {
	return audit.New(ctx, tn, time.Now(), "user.updated", "user", "usr_06h0s95yk9vh6c2sd1da4adn6c",
		map[string]any{"changed": []string{"given_name", "family_name"}, "n": i})
}

func BenchmarkAuditAppend(b *testing.B) {
	ctx := audit.WithActor(context.Background(), audit.Actor{Type: "api_token", ID: "tok_06h0s95yhrtp49ghpvvdybvbd0",
		ClientIP: "192.0.2.7", UserAgent: "bench/1", RequestID: "3y2w7n3uzk5qhegmowyg2beqfu"})
	benchEachDB(b, func(b *testing.B, db *store.DB) {
		// The dominant primitive, in the same run: one transaction writing
		// one small row (a tenant setting), one writer.
		b.Run("commit", func(b *testing.B) {
			now := time.Now().UTC()
			slug := fmt.Sprint("bench-commit-", now.UnixNano())
			tn := tenant.ID("ten_" + slug)
			if err := db.CreateTenant(ctx, &tenant.Tenant{ID: tn, Slug: slug, Name: "Bench", Version: 1, Created: now, Updated: now}); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				if err := db.InTx(ctx, func(ctx context.Context) error { return db.PutSetting(ctx, tn, fmt.Sprint("k", i%100), i) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
		})
		for _, c := range []struct{ writers, tenants int }{{1, 1}, {8, 1}, {8, 8}} {
			b.Run(fmt.Sprintf("writers=%d/tenants=%d", c.writers, c.tenants), func(b *testing.B) {
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range c.writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						tn := fmt.Sprintf("ten_bench_%s_%d", b.Name(), w%c.tenants)
						for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
							if err := db.AppendEvent(ctx, benchEvent(ctx, tn, i)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			})
		}
	})
}

// noAudit is the store with AppendEvent a no-op: a user update without its
// audit event, for comparison only.
type noAudit struct{ *store.DB }

func (noAudit) AppendEvent(context.Context, *audit.Event) error { return nil }

// BenchmarkAuditUserUpdate measures what the audit event adds to a user
// update, alternating updates with and without it so that both see the same
// database state, at three levels:
//
//	store  one transaction: UpdateUser, plus AppendEvent or not
//	api    PATCH /api/v1/users/{id} over HTTP on the full server, the user
//	       service given the real store or noAudit
//
// and reports µs per update of each kind and the overhead in percent.
func BenchmarkAuditUserUpdate(b *testing.B) {
	report := func(b *testing.B, plain, audited time.Duration) {
		n := float64(b.N)
		b.ReportMetric(float64(plain.Microseconds())/n, "plain-µs/update")
		b.ReportMetric(float64(audited.Microseconds())/n, "audited-µs/update")
		b.ReportMetric(100*float64(audited-plain)/float64(plain), "audit-overhead-%")
	}
	benchEachDB(b, func(b *testing.B, db *store.DB) {
		env := testkit.NewServer(b, db)
		ctx := audit.WithActor(context.Background(), audit.Actor{Type: "api_token", ID: "tok_bench"})
		sc := tenant.Scope{}
		t, err := env.Server.Tenants.TenantBySlug(ctx, "default")
		if err != nil {
			b.Fatal(err)
		}
		sc.Tenant = t.ID
		u, err := env.Server.Users.Create(ctx, sc, user.NewUser{Username: "bench.user", GivenName: "Bench",
			Emails: []user.Email{{Value: "bench@example.com", Primary: true}}})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("store", func(b *testing.B) {
			update := func(i int, audited bool) time.Duration {
				start := time.Now()
				err := db.InTx(ctx, func(ctx context.Context) error {
					out, err := db.UpdateUser(ctx, sc.Tenant, u.ID, func(u *user.User) error {
						u.GivenName = fmt.Sprint("Bench ", i, audited)
						u.Version++
						u.Updated = time.Now().UTC().Truncate(time.Microsecond)
						return nil
					})
					if err != nil || !audited {
						return err
					}
					return db.AppendEvent(ctx, audit.New(ctx, string(sc.Tenant), out.Updated, "user.updated", "user", string(u.ID),
						map[string]any{"changed": []string{"given_name"}}))
				})
				if err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			for i := range 200 { // warm up
				update(i, i%2 == 0)
			}
			var plain, audited time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				plain += update(i, false)
				audited += update(i, true)
			}
			report(b, plain, audited)
		})
		b.Run("api", func(b *testing.B) {
			users := env.Server.Users
			real := users.Store
			defer func() { users.Store = real }()
			update := func(i int, audited bool) time.Duration {
				users.Store = noAudit{db}
				if audited {
					users.Store = real
				}
				start := time.Now()
				res := env.Do(b, "PATCH", "/api/v1/users/"+string(u.ID), env.AdminToken, map[string]any{"given_name": fmt.Sprint("Bench ", i, audited)})
				if res.Status != 200 {
					b.Fatalf("PATCH: %d %s", res.Status, res.Body)
				}
				return time.Since(start)
			}
			for i := range 200 {
				update(i, i%2 == 0)
			}
			var plain, audited time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				plain += update(i, false)
				audited += update(i, true)
			}
			report(b, plain, audited)
		})
	})
}

func BenchmarkAuditVerify(b *testing.B) {
	benchEachDB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		const events = 100_000
		tn := "ten_bench_verify"
		// Fill through the real append path, 1000 events per transaction.
		for i := int64(0); i < events; {
			err := db.InTx(ctx, func(ctx context.Context) error {
				for range 1000 {
					i++
					if err := db.AppendEvent(ctx, benchEvent(ctx, tn, i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		s := &audit.Service{Store: db, Now: time.Now}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for b.Loop() {
			res, err := s.Verify(ctx, tn)
			if err != nil || !res.OK || res.Checked != events {
				b.Fatalf("verify: %+v, %v", res, err)
			}
		}
		b.ReportMetric(float64(b.N)*events/time.Since(start).Seconds(), "events/s")
	})
}
