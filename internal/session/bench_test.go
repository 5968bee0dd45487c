package session_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
)

// BenchmarkValidateLiveSessions measures session validation, the work of
// every signed-in request, with many live sessions in the database
// (TESSERA_BENCH_SESSIONS, default 1,000,000), and reports latency
// percentiles and the database bytes each session takes. Tessera keeps no
// session state in memory: a session costs its row and index entries.
func BenchmarkValidateLiveSessions(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TESSERA_BENCH_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	// SQLite: the server's configuration, with the in-memory cache.
	b.Run("sqlite-cached", func(b *testing.B) { benchValidate(b, testkit.OpenSQLite(b), n, true) })
	// Without the cache, every check reads the database.
	b.Run("sqlite-uncached", func(b *testing.B) { benchValidate(b, testkit.OpenSQLite(b), n, false) })
	b.Run("postgres-uncached", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES")
		}
		benchValidate(b, testkit.OpenPostgres(b, u), n, false)
	})
}

func benchValidate(b *testing.B, db *store.DB, n int, cache bool) {
	ctx := context.Background()
	ts := &tenant.Service{Store: db, Now: time.Now}
	tn, err := ts.CreateTenant(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	us := &user.Service{Store: db, Now: time.Now}
	u, err := us.Create(ctx, tenant.Scope{Tenant: tn.ID}, user.NewUser{Username: "bench", Status: user.Active})
	if err != nil {
		b.Fatal(err)
	}
	mk, _ := keys.ParseMasterKey(keys.GenerateMasterKey())
	svc := &session.Service{Store: db, Now: time.Now, Users: us, Seal: mk, Digest: mk.Digester("bench")}

	before, err := db.SizeBytes(ctx)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tokens := make([]string, 0, n)
	const batch = 10_000
	for start := 0; start < n; start += batch {
		err := db.InTx(ctx, func(ctx context.Context) error {
			for i := start; i < min(start+batch, n); i++ {
				raw := make([]byte, 32)
				_, _ = rand.Read(raw)
				tok := base64.RawURLEncoding.EncodeToString(raw)
				sum := sha256.Sum256([]byte(tok))
				s := &session.Session{Tenant: tn.ID, ID: session.ID(fmt.Sprintf("ses_bench%012d", i)), User: u.ID,
					AMR: []string{"pwd"}, ClientIP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
					Created: now, LastSeen: now, IdleUntil: now.Add(time.Hour), Expires: now.Add(12 * time.Hour)}
				if err := db.CreateSession(ctx, s, hex.EncodeToString(sum[:])); err != nil {
					return err
				}
				tokens = append(tokens, tok)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	after, err := db.SizeBytes(ctx)
	if err != nil {
		b.Fatal(err)
	}

	heapPerSession := 0.0
	if cache {
		// Every session checked once: the cache then holds them all, and
		// the heap growth is its cost per session.
		svc.Cache = session.NewCache(n)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		for _, tok := range tokens {
			if _, err := svc.Validate(ctx, tn.ID, tok); err != nil {
				b.Fatal(err)
			}
		}
		if err := svc.FlushActivity(ctx); err != nil { // as the server does every few seconds
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		heapPerSession = (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(n)
	}
	pick := mrand.New(mrand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, 1<<20)
	b.ResetTimer()
	for b.Loop() {
		tok := tokens[pick.IntN(len(tokens))]
		t0 := time.Now()
		if _, err := svc.Validate(ctx, tn.ID, tok); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(after-before)/float64(n), "db-bytes/session")
	b.ReportMetric(float64(n), "sessions")
	if cache {
		b.ReportMetric(heapPerSession, "heap-bytes/session")
	}
}
