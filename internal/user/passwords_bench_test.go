package user_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// BenchmarkCheckPassword measures a password check end to end
// (user.Service.CheckPassword on a real store: look-up by login, hash read,
// argon2id verification at DefaultParams) beside the raw argon2id derivation
// at the same parameters, the dominant primitive (DESIGN §5).
//
// Each iteration of a check sub-benchmark (ok, wrong-password,
// unknown-user) also runs one raw derivation outside the timer, so ns/op is
// the check alone while raw-ms/op and vs-raw-% come from the same
// iterations: interleaving cancels the drift that separate runs would add.
// Still, vs-raw-% is a difference of two ~15 ms times, noisy to a few percent
// on a shared 2-core machine; reads-after-argon2id's overhead-% measures the
// same overhead directly (everything a check adds to the derivation is those
// reads, plus microseconds of hash parsing). The goal (issue 2) is at most 5%.
// wrong-password and unknown-user must cost the same as ok (no account
// enumeration by timing).
func BenchmarkCheckPassword(b *testing.B) {
	p := password.DefaultParams()
	salt := []byte("0123456789abcdef") // 16 bytes, as Hasher salts
	raw := func() { argon2.IDKey([]byte("correct horse battery staple"), salt, p.Time, p.Memory, p.Threads, 32) }

	b.Run("argon2id-raw", func(b *testing.B) {
		for b.Loop() {
			raw()
		}
	})
	run := func(b *testing.B, db checkStore) {
		svc, t := checkService(b, db)
		// The reads CheckPassword makes before it verifies, in a hot loop:
		// their cost without argon2id evicting the caches in between.
		reads := func(b *testing.B) {
			ctx := context.Background()
			u, err := db.UserByKey(ctx, t, user.Key("ada.lovelace"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := db.PasswordHashes(ctx, t, u.ID, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("store-reads", func(b *testing.B) {
			for b.Loop() {
				reads(b)
			}
		})
		// The same reads right after a raw derivation (outside the timer), as
		// they run in a series of checks: argon2id's 19 MiB has just evicted
		// the caches. overhead-% = these reads ÷ the derivations of the same
		// iterations: the check's overhead measured directly, with far less
		// noise than a difference of two ~15 ms times.
		b.Run("reads-after-argon2id", func(b *testing.B) {
			var rawTime, readTime time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				t0 := time.Now()
				raw()
				rawTime += time.Since(t0)
				b.StartTimer()
				t1 := time.Now()
				reads(b)
				readTime += time.Since(t1)
			}
			b.ReportMetric(float64(rawTime.Nanoseconds())/1e6/float64(b.N), "raw-ms/op")
			b.ReportMetric(float64(readTime)/float64(rawTime)*100, "overhead-%")
		})
		for _, c := range []struct {
			name, login, plain string
			want               error
		}{
			{"ok", "ada.lovelace", "correct horse battery staple", nil},
			{"wrong-password", "ada.lovelace", "correct horse battery stapler", user.ErrBadCredentials},
			{"unknown-user", "nobody.here", "correct horse battery staple", user.ErrBadCredentials},
		} {
			b.Run(c.name, func(b *testing.B) {
				ctx := context.Background()
				var rawTime, checkTime time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					t0 := time.Now()
					raw()
					rawTime += time.Since(t0)
					b.StartTimer()
					t1 := time.Now()
					_, err := svc.CheckPassword(ctx, t, c.login, c.plain)
					checkTime += time.Since(t1)
					if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
						b.Fatalf("CheckPassword(%s): %v, want %v", c.login, err, c.want)
					}
				}
				b.ReportMetric(float64(rawTime.Nanoseconds())/1e6/float64(b.N), "raw-ms/op")
				b.ReportMetric((float64(checkTime)/float64(rawTime)-1)*100, "vs-raw-%")
			})
		}
	}
	b.Run("sqlite", func(b *testing.B) { run(b, testkit.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES to run the PostgreSQL benchmarks")
		}
		run(b, testkit.OpenPostgres(b, u))
	})
}

// checkStore is what the store offers both services; *store.DB is one.
type checkStore interface {
	user.Store
	tenant.Store
}

// checkService returns a user service at DefaultParams with one tenant and
// one user, "ada.lovelace", whose password is "correct horse battery staple".
func checkService(b *testing.B, db checkStore) (*user.Service, tenant.ID) {
	b.Helper()
	ctx := context.Background()
	now := func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
	t, err := (&tenant.Service{Store: db, Now: now}).CreateTenant(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	svc := &user.Service{Store: db, Now: now, Hasher: password.NewHasher(password.DefaultParams(), 0)}
	_, err = svc.Create(ctx, tenant.Scope{Tenant: t.ID}, user.NewUser{
		Username: "ada.lovelace", Emails: []user.Email{{Value: "ada@example.com", Primary: true}},
		GivenName: "Ada", FamilyName: "Lovelace", Password: "correct horse battery staple",
	})
	if err != nil {
		b.Fatal(err)
	}
	return svc, t.ID
}

// BenchmarkCheckPasswordParallel is the throughput view: checks from
// RunParallel goroutines (the Hasher admits GOMAXPROCS at a time) beside raw
// derivations and Hasher.Verify (no reads) at the same parallelism.
func BenchmarkCheckPasswordParallel(b *testing.B) {
	p := password.DefaultParams()
	salt := []byte("0123456789abcdef")
	const plain = "correct horse battery staple"
	b.Run("argon2id-raw", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, 32)
			}
		})
	})
	h := password.NewHasher(p, 0)
	enc, err := h.Hash(context.Background(), plain)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hasher-verify", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := h.Verify(context.Background(), enc, plain); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	})
	run := func(b *testing.B, db checkStore) {
		svc, t := checkService(b, db)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.CheckPassword(context.Background(), t, "ada.lovelace", plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("sqlite", func(b *testing.B) { run(b, testkit.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) {
		u := testkit.PostgresURL(b)
		if u == "" {
			b.Skip("set TESSERA_TEST_POSTGRES to run the PostgreSQL benchmarks")
		}
		run(b, testkit.OpenPostgres(b, u))
	})
}
