package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/store"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
)

var auditT0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// auditAppend appends n events to tenant tn, the i-th at auditT0 + i minutes.
func auditAppend(t testing.TB, db *store.DB, tn string, n int, at func(i int) time.Time) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Type: "api_token", ID: "tok_test", ClientIP: "192.0.2.1",
		UserAgent: "test/1", RequestID: "req"})
	if at == nil {
		at = func(i int) time.Time { return auditT0.Add(time.Duration(i) * time.Minute) }
	}
	for i := range n {
		e := audit.New(ctx, tn, at(i), "user.updated", "user", fmt.Sprint("usr_", i%3),
			map[string]any{"changed": []string{"given_name"}, "i": i})
		if i%4 == 3 {
			e.Outcome = audit.Failure
			e.Action = "session.sign_in"
		}
		if err := db.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

func auditService(db *store.DB, dir string, now time.Time) *audit.Service {
	return &audit.Service{Store: db, Now: func() time.Time { return now }, ArchiveDir: dir}
}

func mustVerify(t *testing.T, s *audit.Service, tn string, all bool) audit.Result {
	t.Helper()
	verify := s.Verify
	if all {
		verify = s.VerifyAll
	}
	res, err := verify(context.Background(), tn)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAuditChain(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := auditService(db, t.TempDir(), auditT0)
		auditAppend(t, db, "ten_a", 25, nil)
		auditAppend(t, db, "ten_b", 3, nil)
		res := mustVerify(t, s, "ten_a", false)
		if !res.OK || res.Checked != 25 || res.Head.Seq != 25 || res.Last != res.Head {
			t.Fatalf("verify: %+v", res)
		}
		// The stored chain links each event to the one before.
		var prev audit.Hash
		var n int
		err := db.EachAuditRecord(ctx, "ten_a", 1, 100, func(r *audit.Record) error {
			n++
			if r.Prev != prev || r.Tenant != "ten_a" || r.Unreadable != "" {
				t.Errorf("event %d: prev %s, want %s (%s)", r.Seq, r.Prev, prev, r.Unreadable)
			}
			if h, _ := r.Sum(nil); h != r.Hash {
				t.Errorf("event %d: stored hash differs from the recomputed one", r.Seq)
			}
			prev = r.Hash
			return nil
		})
		if err != nil || n != 25 {
			t.Fatalf("each: %d, %v", n, err)
		}
		head, err := db.AuditHead(ctx, "ten_a")
		if err != nil || head.Last != (audit.Anchor{Seq: 25, Hash: prev}) || head.Anchor != (audit.Anchor{}) {
			t.Errorf("head %+v, %v", head, err)
		}
		// A tenant without events verifies, empty.
		if res := mustVerify(t, s, "ten_none", false); !res.OK || res.Checked != 0 {
			t.Errorf("empty tenant: %+v", res)
		}
		// Rolled-back appends leave no trace in the chain.
		rollback := errors.New("rollback")
		err = db.InTx(ctx, func(ctx context.Context) error {
			if err := db.AppendEvent(ctx, audit.New(ctx, "ten_b", auditT0, "x.y", "", "", nil)); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		auditAppend(t, db, "ten_b", 1, nil)
		if res := mustVerify(t, s, "ten_b", false); !res.OK || res.Checked != 4 {
			t.Errorf("after a rollback: %+v", res)
		}
	})
}

// TestAuditChainConcurrentWriters: 8 writers in each of 2 tenants append at
// once; both chains stay linear, gapless and valid.
func TestAuditChainConcurrentWriters(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, 2*writers)
		for _, tn := range []string{"ten_x", "ten_y"} {
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := context.Background()
					for i := range each {
						e := audit.New(ctx, tn, auditT0, "test.appended", "writer", fmt.Sprint(w), map[string]any{"i": i})
						if err := db.AppendEvent(ctx, e); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		s := auditService(db, "", auditT0)
		for _, tn := range []string{"ten_x", "ten_y"} {
			if res := mustVerify(t, s, tn, false); !res.OK || res.Checked != writers*each || res.Head.Seq != writers*each {
				t.Errorf("%s: %+v", tn, res)
			}
		}
	})
}

// tamper is one attack on the stored log, by SQL behind the store's back.
type tamper struct {
	name string
	// do tampers with tenant tn, whose events are 1..n; it returns the seq
	// verification must name.
	do func(t *testing.T, raw *sql.DB, d store.Dialect, tn string, n int64) int64
}

func rawExec(t *testing.T, raw *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := raw.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// setColumn changes one column of event seq.
func setColumn(col string, v any, seq int64) func(*testing.T, *sql.DB, store.Dialect, string, int64) int64 {
	return func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
		rawExec(t, raw, `UPDATE audit_events SET `+col+` = $3 WHERE tenant_id = $1 AND seq = $2`, tn, seq, v)
		return seq
	}
}

// renumber moves events seq >= from by delta (through negative seqs, so the
// primary key never collides mid-statement).
func renumber(t *testing.T, raw *sql.DB, tn string, from, delta int64) {
	rawExec(t, raw, `UPDATE audit_events SET seq = -seq WHERE tenant_id = $1 AND seq >= $2`, tn, from)
	rawExec(t, raw, `UPDATE audit_events SET seq = -seq + $2 WHERE tenant_id = $1 AND seq < 0`, tn, delta)
}

// copyEvent inserts a copy of event src at seq dst, with the given links.
func copyEvent(t *testing.T, raw *sql.DB, tn string, src, dst int64, prev, hash []byte) {
	rawExec(t, raw, `INSERT INTO audit_events (tenant_id, seq, at, actor_type, actor_id, client_ip, user_agent, request_id,
		action, target_type, target_id, outcome, details, prev_hash, hash)
		SELECT tenant_id, $3, at, actor_type, actor_id, client_ip, user_agent, request_id, action, target_type, target_id,
		'success', details, $4, $5 FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tn, src, dst, prev, hash)
}

func eventHash(t *testing.T, raw *sql.DB, tn string, seq int64) []byte {
	var h []byte
	if err := raw.QueryRow(`SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tn, seq).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func tampers() []tamper {
	const k = 5
	ts := []tamper{}
	// Edit each field in turn.
	for _, f := range []struct {
		col string
		v   any
	}{
		{"at", "2026-11-01T09:00:00.000000Z"}, {"actor_type", "user"}, {"actor_id", "usr_mallory"},
		{"client_ip", "198.51.100.66"}, {"user_agent", "mallory/1"}, {"request_id", "forged"},
		{"action", "user.created"}, {"target_type", "group"}, {"target_id", "usr_other"}, {"outcome", "failure"},
		{"details", `{"changed":["family_name"],"i":4}`}, {"prev_hash", make([]byte, 32)}, {"hash", make([]byte, 32)},
	} {
		ts = append(ts, tamper{"edit " + f.col, setColumn(f.col, f.v, k)})
	}
	return append(ts,
		tamper{"edit details, same meaning other spelling", setColumn("details", `{"i":4,"changed":["given_name"]}`, k)},
		tamper{"null hash", setColumn("hash", nil, k)},
		tamper{"short hash", setColumn("hash", []byte{1, 2, 3}, k)},
		tamper{"move to another tenant", setColumn("tenant_id", "ten_elsewhere", k)},
		tamper{"renumber one event", setColumn("seq", 1000, k)},
		tamper{"edit the first event", setColumn("action", "user.created", 1)},
		tamper{"edit the last event", func(t *testing.T, raw *sql.DB, d store.Dialect, tn string, n int64) int64 {
			return setColumn("actor_id", "x", n)(t, raw, d, tn, n)
		}},
		tamper{"delete", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			rawExec(t, raw, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tn, k)
			return k
		}},
		tamper{"delete the first event", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			rawExec(t, raw, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 1`, tn)
			return 1
		}},
		tamper{"delete and close the gap", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			rawExec(t, raw, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tn, k)
			renumber(t, raw, tn, k+1, -1)
			return k // event k+1, now at k, does not link to k-1
		}},
		tamper{"insert with a naive link", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			renumber(t, raw, tn, k, 1)
			copyEvent(t, raw, tn, k+1, k, make([]byte, 32), make([]byte, 32))
			return k
		}},
		tamper{"insert with a valid link and hash", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			// The attacker knows the algorithm: the forged event verifies
			// alone, the event after it no longer links.
			renumber(t, raw, tn, k, 1)
			copyEvent(t, raw, tn, k+1, k, eventHash(t, raw, tn, k-1), make([]byte, 32))
			var r audit.Record
			r.Tenant = tn
			row := raw.QueryRow(`SELECT seq, at, actor_type, actor_id, client_ip, user_agent, request_id, action, target_type,
				target_id, outcome, details, prev_hash FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tn, k)
			var at any
			var details string
			var prev []byte
			if err := row.Scan(&r.Seq, &at, &r.Actor.Type, &r.Actor.ID, &r.Actor.ClientIP, &r.Actor.UserAgent, &r.Actor.RequestID,
				&r.Action, &r.TargetType, &r.TargetID, &r.Outcome, &details, &prev); err != nil {
				t.Fatal(err)
			}
			switch v := at.(type) {
			case time.Time:
				r.At = v.UTC()
			case string:
				r.At, _ = time.Parse(time.RFC3339Nano, v)
			}
			r.Details = []byte(details)
			copy(r.Prev[:], prev)
			h, _ := r.Sum(nil)
			rawExec(t, raw, `UPDATE audit_events SET hash = $3 WHERE tenant_id = $1 AND seq = $2`, tn, k, h[:])
			return k + 1
		}},
		tamper{"append beyond the head", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, n int64) int64 {
			copyEvent(t, raw, tn, n, n+1, eventHash(t, raw, tn, n), make([]byte, 32))
			return n + 1
		}},
		tamper{"reorder", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			rawExec(t, raw, `UPDATE audit_events SET seq = -1 WHERE tenant_id = $1 AND seq = $2`, tn, k)
			rawExec(t, raw, `UPDATE audit_events SET seq = $2 WHERE tenant_id = $1 AND seq = $3`, tn, k, k+1)
			rawExec(t, raw, `UPDATE audit_events SET seq = $2 WHERE tenant_id = $1 AND seq = -1`, tn, k+1)
			return k
		}},
		tamper{"truncate the tail", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, n int64) int64 {
			rawExec(t, raw, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq > $2`, tn, n-3)
			return n - 2
		}},
		tamper{"truncate the tail and the head", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, n int64) int64 {
			// Moving the head back too is the rewrite verification cannot see
			// from the database alone; with the head's old value recorded
			// elsewhere it can. Here the head keeps its seq but not its hash.
			rawExec(t, raw, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq > $2`, tn, n-3)
			rawExec(t, raw, `UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1`, tn, eventHash(t, raw, tn, n-3))
			return n - 2
		}},
		tamper{"edit the head's hash", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, n int64) int64 {
			rawExec(t, raw, `UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1`, tn, make([]byte, 32))
			return n
		}},
		tamper{"move the anchor", func(t *testing.T, raw *sql.DB, _ store.Dialect, tn string, _ int64) int64 {
			rawExec(t, raw, `UPDATE audit_heads SET anchor_hash = $2 WHERE tenant_id = $1`, tn, eventHash(t, raw, tn, 2))
			return 1
		}},
	)
}

// dropGuards removes the append-only triggers, as an attacker with full
// database access would.
func dropGuards(t *testing.T, raw *sql.DB, d store.Dialect) {
	if d == store.Postgres {
		rawExec(t, raw, `DROP TRIGGER audit_events_guard ON audit_events`)
		return
	}
	rawExec(t, raw, `DROP TRIGGER audit_events_no_update`)
	rawExec(t, raw, `DROP TRIGGER audit_events_no_delete`)
}

// TestAuditTamper edits, deletes, inserts, reorders and truncates events
// with SQL and expects verification to name exactly the right event.
func TestAuditTamper(t *testing.T) {
	testkit.EachRawDB(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		const n = 10
		s := auditService(db, "", auditT0)
		d := db.Dialect()

		// With the guards in place, an UPDATE or DELETE of an event fails.
		auditAppend(t, db, "ten_guarded", n, nil)
		if _, err := raw.Exec(`UPDATE audit_events SET action = 'x' WHERE tenant_id = 'ten_guarded' AND seq = 2`); err == nil ||
			!strings.Contains(err.Error(), "append-only") {
			t.Errorf("UPDATE of an audit event: %v", err)
		}
		if _, err := raw.Exec(`DELETE FROM audit_events WHERE tenant_id = 'ten_guarded' AND seq = 2`); err == nil ||
			!strings.Contains(err.Error(), "archiving") {
			t.Errorf("DELETE of an audit event: %v", err)
		}
		if res := mustVerify(t, s, "ten_guarded", false); !res.OK {
			t.Fatalf("guarded log: %+v", res)
		}

		dropGuards(t, raw, d)
		for i, tc := range tampers() {
			t.Run(tc.name, func(t *testing.T) {
				tn := fmt.Sprintf("ten_tamper_%d", i)
				auditAppend(t, db, tn, n, nil)
				auditAppend(t, db, tn+"_bystander", 3, nil)
				if res := mustVerify(t, s, tn, false); !res.OK {
					t.Fatalf("before tampering: %+v", res)
				}
				want := tc.do(t, raw, d, tn, n)
				res := mustVerify(t, s, tn, false)
				if res.OK || res.BadSeq != want {
					t.Fatalf("verification answered %+v; want the first bad event %d", res, want)
				}
				t.Logf("%s: event %d: %s", tc.name, res.BadSeq, res.Reason)
				if res := mustVerify(t, s, tn+"_bystander", false); !res.OK {
					t.Errorf("another tenant's chain broke: %+v", res)
				}
			})
		}
	})
}

// TestAuditArchive archives events older than the retention into files,
// verifies across the boundary, and detects tampering on either side.
func TestAuditArchive(t *testing.T) {
	testkit.EachRawDB(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Type: "cli", ID: "tessera audit archive"})
		dir := t.TempDir()
		now := auditT0.Add(30 * 24 * time.Hour)
		s := auditService(db, dir, now)
		s.ArchiveBatch = 4
		tn := createTenant(t, db, "archived")
		// 15 events on day 0, 10 on day 25.
		auditAppend(t, db, tn, 15, nil)
		auditAppend(t, db, tn, 10, func(i int) time.Time { return auditT0.Add(25*24*time.Hour + time.Duration(i)*time.Minute) })

		// Kept forever by default: nothing moves.
		if res, err := s.Archive(ctx, tn); err != nil || len(res.Files) != 0 {
			t.Fatalf("archive without retention: %+v, %v", res, err)
		}
		if err := s.SetRetention(ctx, tn, 10); err != nil {
			t.Fatal(err)
		}
		if days, err := s.Retention(ctx, tn); err != nil || days != 10 {
			t.Fatalf("retention %d, %v", days, err)
		}
		res, err := s.Archive(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		// Events 1..15 in files of 4: 1-4, 5-8, 9-12, 13-15.
		var names []string
		for _, f := range res.Files {
			names = append(names, filepath.Base(f))
		}
		if res.Events != 15 || !slices.Equal(names, []string{
			"00000000000000000001-00000000000000000004.ndjson", "00000000000000000005-00000000000000000008.ndjson",
			"00000000000000000009-00000000000000000012.ndjson", "00000000000000000013-00000000000000000015.ndjson"}) {
			t.Fatalf("archive: %+v", res)
		}
		var left int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND seq <= 15`, tn).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d archived events still in the database (%v)", left, err)
		}
		head, _ := db.AuditHead(ctx, tn)
		if head.Anchor.Seq != 15 || res.Anchor != head.Anchor {
			t.Fatalf("anchor %+v, result %+v", head.Anchor, res.Anchor)
		}
		// The log records each archive step (1 retention change + 4 archive
		// events after the 25).
		p, err := s.List(ctx, tn, audit.Query{Action: "audit.", Request: pageReq(50)})
		if err != nil || len(p.Items) != 5 || p.Items[1].Action != audit.ActionArchived {
			t.Fatalf("archive events: %v, %+v", err, p.Items)
		}

		// The database alone verifies its suffix from the anchor; the files
		// and the database verify the whole chain across the boundary.
		if r := mustVerify(t, s, tn, false); !r.OK || r.From.Seq != 15 || r.Checked != 15 {
			t.Fatalf("database alone: %+v", r)
		}
		if r := mustVerify(t, s, tn, true); !r.OK || r.Archived != 15 || r.Checked != 30 || r.Head.Seq != 30 || r.Anchor.Seq != 15 {
			t.Fatalf("archive and database: %+v", r)
		}
		// Nothing more is old enough.
		if again, err := s.Archive(ctx, tn); err != nil || len(again.Files) != 0 {
			t.Fatalf("second run: %+v, %v", again, err)
		}

		// A file left by a run that never committed is cleaned up, and
		// ignored by verification meanwhile.
		leftover := filepath.Join(dir, tn, "00000000000000000031-00000000000000000040.ndjson")
		if err := os.WriteFile(leftover, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := mustVerify(t, s, tn, true); !r.OK {
			t.Fatalf("with a leftover file: %+v", r)
		}
		if _, err := s.Archive(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover file kept: %v", err)
		}

		// A second run racing from a stale anchor cannot commit.
		err = db.InTx(ctx, func(ctx context.Context) error {
			return db.DropArchived(ctx, tn, audit.Anchor{Seq: 12}, audit.Anchor{Seq: 16})
		})
		if !errors.Is(err, audit.ErrArchiveRace) {
			t.Errorf("stale anchor: %v", err)
		}

		// Tamper with an archived line: the whole-chain check names it, the
		// database's own check (which does not read files) still passes.
		f3 := filepath.Join(dir, tn, names[2])
		b, err := os.ReadFile(f3)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		lines[2] = strings.Replace(lines[2], `"outcome":"success"`, `"outcome":"failure"`, 1) // event 10
		if err := os.WriteFile(f3, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := mustVerify(t, s, tn, true); r.OK || r.BadSeq != 10 {
			t.Fatalf("tampered archive: %+v", r)
		}
		if r := mustVerify(t, s, tn, false); !r.OK {
			t.Fatalf("database alone after archive tampering: %+v", r)
		}
		if err := os.WriteFile(f3, b, 0o600); err != nil {
			t.Fatal(err)
		}

		// Missing files are reported, not mistaken for a short log.
		moved := t.TempDir()
		if err := os.Rename(filepath.Join(dir, tn), filepath.Join(moved, tn)); err != nil {
			t.Fatal(err)
		}
		if r := mustVerify(t, s, tn, true); r.OK || r.BadSeq != 1 || !strings.Contains(r.Reason, "no archive file") {
			t.Fatalf("without the files: %+v", r)
		}
		if err := os.Rename(filepath.Join(moved, tn), filepath.Join(dir, tn)); err != nil {
			t.Fatal(err)
		}

		// The anchor is what ties the database to the files.
		rawExec(t, raw, `UPDATE audit_heads SET anchor_hash = $2 WHERE tenant_id = $1`, tn, make([]byte, 32))
		if r := mustVerify(t, s, tn, true); r.OK || r.BadSeq != 15 {
			t.Fatalf("anchor edited, whole chain: %+v", r)
		}
		if r := mustVerify(t, s, tn, false); r.OK || r.BadSeq != 16 {
			t.Fatalf("anchor edited, database alone: %+v", r)
		}

		if err := s.SetRetention(ctx, tn, -1); err == nil {
			t.Errorf("negative retention accepted")
		}
	})
}

func pageReq(limit int) page.Request { return page.Request{Limit: limit} }

func createTenant(t *testing.T, db *store.DB, slug string) string {
	t.Helper()
	now := auditT0
	tn := &tenant.Tenant{ID: tenant.ID("ten_" + slug), Slug: slug, Name: slug, Version: 1, Created: now, Updated: now}
	if err := db.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return string(tn.ID)
}

// TestAuditSealsLogsFromBeforeTheChain: events written before migration
// 00002 (no hashes) are chained at start, or by the first append.
func TestAuditSealsLogsFromBeforeTheChain(t *testing.T) {
	testkit.EachRawDB(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		ctx := context.Background()
		legacy := func(tn string, n int) {
			rawExec(t, raw, `INSERT INTO audit_heads (tenant_id, seq) VALUES ($1, $2)`, tn, n)
			for i := 1; i <= n; i++ {
				rawExec(t, raw, `INSERT INTO audit_events (tenant_id, seq, at, actor_type, actor_id, client_ip, user_agent,
					request_id, action, target_type, target_id, outcome, details)
					VALUES ($1, $2, $3, 'system', 'tessera', '', '', '', 'user.created', 'user', $4, 'success', $5)`,
					tn, i, auditT0.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000000Z"), fmt.Sprint("usr_", i),
					`{"zeta": 1, "alpha": {"b": 2, "a": 1.50}}`)
			}
		}
		legacy("ten_old", 4)
		legacy("ten_old_untouched", 2)
		s := auditService(db, "", auditT0)
		if res := mustVerify(t, s, "ten_old", false); res.OK || res.BadSeq != 1 {
			t.Fatalf("unsealed log verified: %+v", res)
		}
		// The first append seals the tenant it appends to.
		auditAppend(t, db, "ten_old", 1, nil)
		if res := mustVerify(t, s, "ten_old", false); !res.OK || res.Checked != 5 {
			t.Fatalf("after an append: %+v", res)
		}
		// Start-up seals the rest.
		if err := db.SealAuditLog(ctx); err != nil {
			t.Fatal(err)
		}
		if res := mustVerify(t, s, "ten_old_untouched", false); !res.OK || res.Checked != 2 {
			t.Fatalf("after sealing: %+v", res)
		}
		var details string
		if err := raw.QueryRow(`SELECT details FROM audit_events WHERE tenant_id = 'ten_old' AND seq = 1`).Scan(&details); err != nil ||
			details != `{"alpha":{"a":1.50,"b":2},"zeta":1}` {
			t.Errorf("sealed details %s, %v", details, err)
		}
		if err := db.SealAuditLog(ctx); err != nil {
			t.Fatal(err)
		}
		// Once sealed, the guard holds.
		if _, err := raw.Exec(`UPDATE audit_events SET action = 'x' WHERE tenant_id = 'ten_old' AND seq = 1`); err == nil {
			t.Errorf("a sealed legacy event could be updated")
		}
	})
}

// TestAuditList covers the System Log query on the store: filters, the
// action prefix, time ranges and keyset walks in both orders.
func TestAuditList(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := auditService(db, "", auditT0)
		auditAppend(t, db, "ten_l", 20, nil)
		auditAppend(t, db, "ten_other", 5, nil)
		walk := func(q audit.Query) []int64 {
			t.Helper()
			var seqs []int64
			for {
				p, err := s.List(ctx, "ten_l", q)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Items {
					if r.Tenant != "ten_l" {
						t.Fatalf("event of %s", r.Tenant)
					}
					seqs = append(seqs, r.Seq)
				}
				if p.Next == "" {
					return seqs
				}
				q.Cursor = p.Next
			}
		}
		seq := func(from, to, step int64) []int64 {
			var out []int64
			for i := from; (step > 0 && i <= to) || (step < 0 && i >= to); i += step {
				out = append(out, i)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    audit.Query
			want []int64
		}{
			{"all ascending in pages of 3", audit.Query{Request: pageReq(3)}, seq(1, 20, 1)},
			{"all descending in pages of 7", audit.Query{Request: page.Request{Limit: 7, Desc: true}}, seq(20, 1, -1)},
			{"failures", audit.Query{Outcome: audit.Failure, Request: pageReq(2)}, []int64{4, 8, 12, 16, 20}},
			{"exact action", audit.Query{Action: "session.sign_in"}, []int64{4, 8, 12, 16, 20}},
			{"action prefix", audit.Query{Action: "session."}, []int64{4, 8, 12, 16, 20}},
			{"prefix needs the dot", audit.Query{Action: "session"}, nil},
			{"actions", audit.Query{Actions: []string{"session.sign_in", "nothing"}, Request: page.Request{Desc: true}}, []int64{20, 16, 12, 8, 4}},
			{"target", audit.Query{TargetType: "user", TargetID: "usr_1"}, []int64{2, 5, 8, 11, 14, 17, 20}},
			{"actor", audit.Query{ActorType: "api_token", ActorID: "tok_test", Request: pageReq(500)}, seq(1, 20, 1)},
			{"other actor", audit.Query{ActorID: "tok_other"}, nil},
			{"since until", audit.Query{Since: auditT0.Add(5 * time.Minute), Until: auditT0.Add(9 * time.Minute)}, []int64{6, 7, 8, 9}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := walk(tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
		for _, bad := range []struct {
			q     audit.Query
			field string
		}{
			{audit.Query{Outcome: "maybe"}, "outcome"},
			{audit.Query{Since: auditT0, Until: auditT0}, "until"},
			{audit.Query{Request: page.Request{Sort: "at"}}, "sort"},
			{audit.Query{Request: page.Request{Cursor: "bogus"}}, "cursor"},
			{audit.Query{Action: "."}, "action"},
			{audit.Query{ActorID: strings.Repeat("x", 600)}, "actor_id"},
		} {
			_, err := s.List(ctx, "ten_l", bad.q)
			if err == nil || !strings.Contains(err.Error(), bad.field) {
				t.Errorf("query %+v: %v, want an error naming %s", bad.q, err, bad.field)
			}
		}
		// Export streams a range.
		var got []int64
		if err := s.Export(ctx, "ten_l", 18, 0, func(r *audit.Record) error { got = append(got, r.Seq); return nil }); err != nil ||
			!slices.Equal(got, []int64{18, 19, 20}) {
			t.Errorf("export 18..: %v, %v", got, err)
		}
		if err := s.Export(ctx, "ten_l", 5, 4, nil); err == nil {
			t.Errorf("export 5..4 accepted")
		}
	})
}

// TestAuditTenantsDoNotWait: on PostgreSQL an append holds only its own
// tenant's head row, so while one tenant's transaction is open another
// tenant appends at once (and the same tenant waits). SQLite has one writer
// for everything and is skipped.
func TestAuditTenantsDoNotWait(t *testing.T) {
	testkit.EachDB(t, func(t *testing.T, db *store.DB) {
		if db.Dialect() != store.Postgres {
			t.Skip("SQLite serialises all writers by design")
		}
		ctx := context.Background()
		auditAppend(t, db, "ten_busy", 1, nil)
		auditAppend(t, db, "ten_free", 1, nil)
		locked := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- db.InTx(ctx, func(ctx context.Context) error {
				if err := db.AppendEvent(ctx, audit.New(ctx, "ten_busy", auditT0, "x.held", "", "", nil)); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		other, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := db.AppendEvent(other, audit.New(other, "ten_free", auditT0, "x.free", "", "", nil)); err != nil {
			t.Errorf("another tenant waited for an open transaction: %v", err)
		}
		same, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel2()
		if err := db.AppendEvent(same, audit.New(same, "ten_busy", auditT0, "x.same", "", "", nil)); err == nil {
			t.Errorf("the same tenant appended past an open transaction holding its head")
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		s := auditService(db, "", auditT0)
		for tn, n := range map[string]int64{"ten_busy": 2, "ten_free": 2} {
			if res := mustVerify(t, s, tn, false); !res.OK || res.Checked != n {
				t.Errorf("%s: %+v", tn, res)
			}
		}
	})
}
