//go:build unix

package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// The two benchmarks of this file run on the same kind of database in the
// same `go test -bench` run, so their ratio can be read directly (DESIGN §5):
//
//	BenchmarkCreateUserAPI/sqlite   users/s   (POST /api/v1/users, no password)
//	BenchmarkCommit/sqlite          commits/s (one one-row INSERT per transaction)
//
// creating a user commits one transaction of several rows (the user, its
// sign-in keys, its audit event and the audit head) after the token and
// schema reads and around the HTTP and JSON work, so users/s ÷ commits/s says
// how much of the commit budget the API keeps.
// Both run b.RunParallel with the same parallelism, on a database primed
// with 500 users and fresh planner statistics. The client runs in the same
// process as the server, so cpu-ms/op counts both sides (and, on
// PostgreSQL, not the database's own processes). The 1,000,000-user runs
// are bench/cmd/tessera-bench's.

// benchParallelism is RunParallel's multiplier: GOMAXPROCS × 4 goroutines,
// enough to keep the single SQLite writer busy while others parse requests.
const benchParallelism = 4

// benchDB runs fn once per database on a fresh, migrated one; PostgreSQL only
// when TESSERA_TEST_POSTGRES (or CI) says where. raw reaches the same
// database behind the store's back (for ANALYZE).
func benchDB(b *testing.B, fn func(b *testing.B, e *testkit.Env, raw *sql.DB)) {
	b.Run("sqlite", func(b *testing.B) {
		db, dsn := testkit.OpenSQLiteDSN(b)
		fn(b, testkit.NewServer(b, db), openRaw(b, "sqlite", dsn))
	})
	b.Run("postgres", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES to run the PostgreSQL benchmarks")
		}
		db, dsn := testkit.OpenPostgresDSN(b, u)
		fn(b, testkit.NewServer(b, db), openRaw(b, "pgx", dsn))
	})
}

func openRaw(b *testing.B, driver, dsn string) *sql.DB {
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return raw
}

// prime creates n users through the service and refreshes the planner's
// statistics, as autovacuum would in production. Without it PostgreSQL
// plans each connection's foreign-key look-ups on never-analyzed tables,
// picks users_updated (tenant_id, updated_at, id) with id as a mere filter,
// and keeps that plan: every insert of a login, external id or membership
// then scans the tenant's users (CI's server runs with autovacuum off).
func prime(b *testing.B, e *testkit.Env, raw *sql.DB, n int) {
	ctx := context.Background()
	t, err := e.Server.Tenants.TenantBySlug(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("prime.user%d", i)
		_, err := e.Server.Users.Create(ctx, tenant.Scope{Tenant: t.ID}, user.NewUser{Username: name,
			Emails: []user.Email{{Value: name + "@example.com", Primary: true}}, ExternalIDs: map[string]string{"crm": name}})
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the parallel body and reports ops/s under unit plus the
// process CPU per operation.
func measure(b *testing.B, unit string, body func(pb *testing.PB)) {
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	cpu0, t0 := cpuTime(b), time.Now()
	b.RunParallel(body)
	wall, cpu := time.Since(t0), cpuTime(b)-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/wall.Seconds(), unit)
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func BenchmarkCreateUserAPI(b *testing.B) {
	benchDB(b, func(b *testing.B, e *testkit.Env, raw *sql.DB) {
		prime(b, e, raw, 500)
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		b.Cleanup(client.CloseIdleConnections)
		var seq atomic.Int64
		measure(b, "users/s", func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				body := fmt.Sprintf(`{"username":"bench.user%d","emails":[{"value":"bench.user%d@example.com","primary":true}],`+
					`"given_name":"Bench","family_name":"User %d","locale":"en-GB","attributes":{}}`, n, n, n)
				req, err := http.NewRequest(http.MethodPost, e.URL+"/api/v1/users", bytes.NewReader([]byte(body)))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+e.AdminToken)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					b.Fatalf("POST /api/v1/users: %d", res.StatusCode)
				}
			}
		})
	})
}

// BenchmarkCommit is the dominant primitive of a create: a transaction
// through store InTx holding one one-row INSERT (a tenant setting under a
// fresh key), on the same kind of database, schema and writer pool as the API
// benchmark above.
func BenchmarkCommit(b *testing.B) {
	benchDB(b, func(b *testing.B, e *testkit.Env, raw *sql.DB) {
		prime(b, e, raw, 500)
		ctx := context.Background()
		t, err := e.Server.Tenants.TenantBySlug(ctx, "default")
		if err != nil {
			b.Fatal(err)
		}
		var seq atomic.Int64
		measure(b, "commits/s", func(pb *testing.PB) {
			for pb.Next() {
				key := fmt.Sprintf("bench.commit.%d", seq.Add(1))
				err := e.DB.InTx(ctx, func(ctx context.Context) error { return e.DB.PutSetting(ctx, t.ID, key, 1) })
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
