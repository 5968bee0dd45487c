package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// recordCols are the audit_events columns of an audit.Record but the tenant,
// which every query fixes.
const recordCols = `seq, at, actor_type, actor_id, client_ip, user_agent, request_id, action, target_type, target_id,
	outcome, details, prev_hash, hash`

// AppendEvent numbers an event in its tenant's log, chains it to the event
// before it and inserts it. Run inside the change's transaction: the upsert
// of the tenant's head row locks that row only, so one tenant's writers
// queue behind each other while other tenants' do not wait.
func (db *DB) AppendEvent(ctx context.Context, e *audit.Event) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		q := db.w(ctx)
		var genesis audit.Hash
		var prevCol []byte
		// On the first event the inserted row answers: seq 1 after the
		// genesis hash. Later the update answers the new seq and the hash it
		// left alone, the previous event's.
		err := q.QueryRowContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 1, $2)
			ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq + 1 RETURNING seq, hash`,
			e.Tenant, genesis[:]).Scan(&e.Seq, &prevCol)
		if err != nil {
			return fmt.Errorf("number audit event: %w", err)
		}
		prev, ok := hashOf(prevCol)
		if !ok { // a log from before the chain: seal it first (we hold its head)
			if prev, err = db.sealTenant(ctx, e.Tenant, e.Seq-1); err != nil {
				return err
			}
		}
		r, err := audit.Seal(e, prev)
		if err != nil {
			return err
		}
		args := []any{r.Tenant, r.Seq, ts(r.At), r.Actor.Type, r.Actor.ID, r.Actor.ClientIP, r.Actor.UserAgent, r.Actor.RequestID,
			r.Action, r.TargetType, r.TargetID, r.Outcome, string(r.Details), r.Prev[:], r.Hash[:]}
		if db.dialect == Postgres {
			// One statement, one round trip: the insert and the head's move
			// (a data-modifying CTE runs whatever the outer statement reads).
			if _, err := q.ExecContext(ctx, `WITH ev AS (INSERT INTO audit_events (tenant_id, `+recordCols+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15))
				UPDATE audit_heads SET hash = $15 WHERE tenant_id = $1`, args...); err != nil {
				return fmt.Errorf("append audit event: %w", err)
			}
			return nil
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, `+recordCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, args...); err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		if _, err := q.ExecContext(ctx, `UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1`, e.Tenant, r.Hash[:]); err != nil {
			return fmt.Errorf("move audit head: %w", err)
		}
		return nil
	})
}

// hashOf reads a hash column; false when it is NULL or not 32 bytes.
func hashOf(b []byte) (audit.Hash, bool) {
	var h audit.Hash
	if len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// Events returns a tenant's events from seq after on, oldest first, with
// their details decoded (tests read the log this way).
func (db *DB) Events(ctx context.Context, t tenant.ID, after int64, limit int) ([]audit.Event, error) {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT seq, at, actor_type, actor_id, client_ip, user_agent, request_id,
		action, target_type, target_id, outcome, details FROM audit_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		t, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		e := audit.Event{Tenant: string(t)}
		if err := rows.Scan(&e.Seq, timeCol{&e.At}, &e.Actor.Type, &e.Actor.ID, &e.Actor.ClientIP, &e.Actor.UserAgent,
			&e.Actor.RequestID, &e.Action, &e.TargetType, &e.TargetID, &e.Outcome, jsonCol{&e.Details}); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// recordScanner scans audit_events rows into one reused record without
// failing on values verification must report (a bad time, a missing hash):
// those land in Record.Unreadable.
type recordScanner struct {
	r                   *audit.Record
	details, prev, hash sql.RawBytes
	dest                []any
}

func newRecordScanner(tenant string, r *audit.Record) *recordScanner {
	s := &recordScanner{r: r}
	r.Tenant = tenant
	s.dest = []any{&r.Seq, auditTime{r}, &r.Actor.Type, &r.Actor.ID, &r.Actor.ClientIP, &r.Actor.UserAgent,
		&r.Actor.RequestID, &r.Action, &r.TargetType, &r.TargetID, &r.Outcome, &s.details, &s.prev, &s.hash}
	return s
}

func (s *recordScanner) scan(rows *sql.Rows) error {
	s.r.Unreadable = ""
	if err := rows.Scan(s.dest...); err != nil {
		return err
	}
	s.r.Details = append(s.r.Details[:0], s.details...)
	var ok bool
	if s.r.Prev, ok = hashOf(s.prev); !ok {
		s.r.Unreadable = "prev_hash is missing or not 32 bytes"
	}
	if s.r.Hash, ok = hashOf(s.hash); !ok {
		s.r.Unreadable = "hash is missing or not 32 bytes (an event from before the chain that was never sealed?)"
	}
	return nil
}

// auditTime scans the at column of either driver into a record, noting a
// value that is not a time instead of failing the scan.
type auditTime struct{ r *audit.Record }

func (c auditTime) Scan(src any) error {
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		c.r.At = time.Time{}
		c.r.Unreadable = "at is not a time"
		return nil
	}
	c.r.At = t
	return nil
}

// AuditHead returns a tenant's head; zero when it has no events.
func (db *DB) AuditHead(ctx context.Context, tn string) (audit.Head, error) {
	return db.auditHead(ctx, db.r(ctx), tn, "")
}

func (db *DB) auditHead(ctx context.Context, q querier, tn, lock string) (audit.Head, error) {
	var h audit.Head
	var last, anchor []byte
	err := q.QueryRowContext(ctx, `SELECT seq, hash, anchor_seq, anchor_hash FROM audit_heads WHERE tenant_id = $1`+lock, tn).
		Scan(&h.Last.Seq, &last, &h.Anchor.Seq, &anchor)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, nil
	}
	if err != nil {
		return h, fmt.Errorf("read audit head: %w", err)
	}
	// A NULL head hash (a log not yet sealed) reads as zero: verification
	// then reports the first unsealed event.
	h.Last.Hash, _ = hashOf(last)
	h.Anchor.Hash, _ = hashOf(anchor)
	return h, nil
}

// WalkAudit reads a tenant's head and then all its stored events in seq
// order from one snapshot (a read-only transaction: REPEATABLE READ on
// PostgreSQL, a WAL read transaction on SQLite), so appends committed during
// the walk never look like events beyond the head.
func (db *DB) WalkAudit(ctx context.Context, tn string, head func(audit.Head) error, each func(*audit.Record) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	h, err := db.auditHead(ctx, tx, tn, "")
	if err != nil {
		return err
	}
	if err := head(h); err != nil {
		return err
	}
	return db.eachRecord(ctx, tx, tn, `SELECT `+recordCols+` FROM audit_events WHERE tenant_id = $1 ORDER BY seq`, each, tn)
}

// EachAuditRecord streams a tenant's events from to to in seq order.
func (db *DB) EachAuditRecord(ctx context.Context, tn string, from, to int64, each func(*audit.Record) error) error {
	return db.eachRecord(ctx, db.r(ctx), tn, `SELECT `+recordCols+` FROM audit_events
		WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq`, each, tn, from, to)
}

func (db *DB) eachRecord(ctx context.Context, q querier, tn, query string, each func(*audit.Record) error, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var r audit.Record
	s := newRecordScanner(tn, &r)
	for rows.Next() {
		if err := s.scan(rows); err != nil {
			return fmt.Errorf("read audit log: %w", err)
		}
		if err := each(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListAuditRecords returns one page of a tenant's System Log, keyset-paged
// by seq in either order.
func (db *DB) ListAuditRecords(ctx context.Context, tn string, rq audit.Query) (page.Of[audit.Record], error) {
	var q query
	q.and("tenant_id = %s", tn)
	for _, f := range [...]struct{ col, v string }{{"actor_type", rq.ActorType}, {"actor_id", rq.ActorID},
		{"target_type", rq.TargetType}, {"target_id", rq.TargetID}, {"outcome", rq.Outcome}} {
		if f.v != "" {
			q.and(f.col+" = %s", f.v)
		}
	}
	if p, ok := rq.ActionPrefix(); ok {
		// substr counts characters on both databases; no LIKE, whose case
		// rules and wildcards differ between them.
		q.and("substr(action, 1, %s) = %s", utf8.RuneCountInString(p), p)
	} else if rq.Action != "" {
		q.and("action = %s", rq.Action)
	}
	if len(rq.Actions) > 0 {
		ph := make([]string, len(rq.Actions))
		for i, a := range rq.Actions {
			ph[i] = q.arg(a)
		}
		q.where = append(q.where, "action IN ("+strings.Join(ph, ", ")+")")
	}
	if !rq.Since.IsZero() {
		q.and("at >= %s", ts(rq.Since))
	}
	if !rq.Until.IsZero() {
		q.and("at < %s", ts(rq.Until))
	}
	if rq.Cursor != "" {
		c, err := decodeCursor(rq.Cursor, "seq")
		if err != nil {
			return page.Of[audit.Record]{}, err
		}
		seq, err := strconv.ParseInt(c.ID, 10, 64)
		if err != nil {
			return page.Of[audit.Record]{}, errBadCursor
		}
		if rq.Desc {
			q.and("seq < %s", seq)
		} else {
			q.and("seq > %s", seq)
		}
	}
	order := " ORDER BY seq"
	if rq.Desc {
		order += " DESC"
	}
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT `+recordCols+` FROM audit_events`+q.whereClause()+order+
		` LIMIT `+q.arg(rq.Limit+1), q.args...)
	if err != nil {
		return page.Of[audit.Record]{}, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out page.Of[audit.Record]
	for rows.Next() {
		var r audit.Record
		if err := newRecordScanner(tn, &r).scan(rows); err != nil {
			return out, fmt.Errorf("list audit events: %w", err)
		}
		out.Items = append(out.Items, r)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	if len(out.Items) > rq.Limit {
		out.Items = out.Items[:rq.Limit]
		out.Next = cursor{Sort: "seq", ID: strconv.FormatInt(out.Items[rq.Limit-1].Seq, 10)}.encode()
	}
	return out, nil
}

// FirstAuditSeqFrom returns the lowest seq above after whose time is at or
// after at.
func (db *DB) FirstAuditSeqFrom(ctx context.Context, tn string, after int64, at time.Time) (int64, bool, error) {
	var seq sql.NullInt64
	err := db.r(ctx).QueryRowContext(ctx, `SELECT MIN(seq) FROM audit_events WHERE tenant_id = $1 AND seq > $2 AND at >= $3`,
		tn, after, ts(at)).Scan(&seq)
	if err != nil {
		return 0, false, fmt.Errorf("find audit events to keep: %w", err)
	}
	return seq.Int64, seq.Valid, nil
}

// DropArchived moves a tenant's anchor from from to to and deletes the
// events in between (now in an archive file). The anchor moves first: the
// delete trigger lets only events at or below the anchor go.
func (db *DB) DropArchived(ctx context.Context, tn string, from, to audit.Anchor) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		q := db.w(ctx)
		h, err := db.auditHead(ctx, q, tn, db.forUpdate())
		if err != nil {
			return err
		}
		if h.Anchor != from {
			return audit.ErrArchiveRace
		}
		var last []byte
		if err := q.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = $2`, tn, to.Seq).Scan(&last); err != nil {
			return fmt.Errorf("read last archived event %d: %w", to.Seq, err)
		}
		if !bytes.Equal(last, to.Hash[:]) {
			return fmt.Errorf("event %d changed while it was archived", to.Seq)
		}
		if _, err := q.ExecContext(ctx, `UPDATE audit_heads SET anchor_seq = $2, anchor_hash = $3 WHERE tenant_id = $1`,
			tn, to.Seq, to.Hash[:]); err != nil {
			return fmt.Errorf("move audit anchor: %w", err)
		}
		res, err := q.ExecContext(ctx, `DELETE FROM audit_events WHERE tenant_id = $1 AND seq > $2 AND seq <= $3`, tn, from.Seq, to.Seq)
		if err != nil {
			return fmt.Errorf("delete archived audit events: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != to.Seq-from.Seq {
			return fmt.Errorf("deleted %d archived audit events, want %d (%v)", n, to.Seq-from.Seq, err)
		}
		return nil
	})
}

// auditRetentionKey is the tenant setting holding the retention in days.
const auditRetentionKey = "audit_retention_days"

// AuditRetention returns a tenant's audit retention in days, 0 for forever
// (the default: no setting).
func (db *DB) AuditRetention(ctx context.Context, tn string) (int, error) {
	var days *int
	if _, err := db.Setting(ctx, tenant.ID(tn), auditRetentionKey, &days); err != nil || days == nil {
		return 0, err
	}
	return *days, nil
}

// PutAuditRetention stores a tenant's audit retention; 0 removes it.
func (db *DB) PutAuditRetention(ctx context.Context, tn string, days int) error {
	if days == 0 {
		_, err := db.w(ctx).ExecContext(ctx, `DELETE FROM tenant_settings WHERE tenant_id = $1 AND key = $2`, tn, auditRetentionKey)
		return err
	}
	return db.PutSetting(ctx, tenant.ID(tn), auditRetentionKey, days)
}

// SealAuditLog chains the events written before the audit chain existed
// (migration 00002 leaves them without hashes): for each tenant whose head
// has no hash, in seq order, it canonicalises the details, links and hashes
// every unsealed event, then records the head's hash. The chain proves
// nothing about those events' past, only that they are not changed after
// sealing. Idempotent; safe on several nodes at once (head row locked).
func (db *DB) SealAuditLog(ctx context.Context) error {
	rows, err := db.r(ctx).QueryContext(ctx, `SELECT tenant_id FROM audit_heads WHERE hash IS NULL`)
	if err != nil {
		return fmt.Errorf("find unsealed audit logs: %w", err)
	}
	var tenants []string
	for rows.Next() {
		var tn string
		if err := rows.Scan(&tn); err != nil {
			rows.Close()
			return err
		}
		tenants = append(tenants, tn)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, tn := range tenants {
		err := db.InTx(ctx, func(ctx context.Context) error {
			var seq int64
			var hash []byte
			err := db.w(ctx).QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1`+db.forUpdate(), tn).Scan(&seq, &hash)
			if err != nil || hash != nil {
				return err // sealed meanwhile by another node
			}
			last, err := db.sealTenant(ctx, tn, seq)
			if err != nil {
				return err
			}
			_, err = db.w(ctx).ExecContext(ctx, `UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1`, tn, last[:])
			return err
		})
		if err != nil {
			return fmt.Errorf("seal audit log of %s: %w", tn, err)
		}
	}
	return nil
}

// sealTenant hashes a tenant's unsealed events up to seq upTo, in the
// caller's transaction (which holds the head), and returns the hash of
// event upTo. Events already sealed are taken as they are.
func (db *DB) sealTenant(ctx context.Context, tn string, upTo int64) (audit.Hash, error) {
	q := db.w(ctx)
	h, err := db.auditHead(ctx, q, tn, "")
	if err != nil {
		return audit.Hash{}, err
	}
	prev := h.Anchor.Hash
	const batch = 500
	for after := h.Anchor.Seq; after < upTo; {
		var recs []audit.Record
		err := db.eachRecord(ctx, q, tn, `SELECT `+recordCols+` FROM audit_events WHERE tenant_id = $1 AND seq > $2 AND seq <= $3
			ORDER BY seq LIMIT `+strconv.Itoa(batch), func(r *audit.Record) error {
			c := *r
			c.Details = bytes.Clone(r.Details)
			recs = append(recs, c)
			return nil
		}, tn, after, upTo)
		if err != nil {
			return prev, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			r := &recs[i]
			after = r.Seq
			if r.Unreadable == "" { // sealed already
				prev = r.Hash
				continue
			}
			details, err := audit.CanonicalJSON(r.Details)
			if err != nil {
				return prev, fmt.Errorf("event %d details: %w", r.Seq, err)
			}
			r.Details, r.Prev, r.Unreadable = details, prev, ""
			r.Hash, _ = r.Sum(nil)
			if _, err := q.ExecContext(ctx, `UPDATE audit_events SET details = $3, prev_hash = $4, hash = $5
				WHERE tenant_id = $1 AND seq = $2`, tn, r.Seq, string(r.Details), r.Prev[:], r.Hash[:]); err != nil {
				return prev, fmt.Errorf("seal audit event %d: %w", r.Seq, err)
			}
			prev = r.Hash
		}
	}
	return prev, nil
}
