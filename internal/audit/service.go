package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
)

// Actions the audit log records about itself.
const (
	ActionArchived         = "audit.archived"
	ActionRetentionChanged = "audit.retention_changed"
	// TargetLog is the target type of events about a tenant's audit log;
	// the target id is the tenant id.
	TargetLog = "audit_log"
)

// Errors of the audit service.
var (
	ErrArchiveRace = fmt.Errorf("the audit log was archived by another run at the same time: %w", errkind.Conflict)
	ErrNoArchive   = errors.New("no archive directory configured")
)

// Store keeps the audit log: the events of each tenant in seq order, and the
// tenant's head (newest event and anchor).
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	Appender

	// AuditHead returns the tenant's head; zero when it has no events.
	AuditHead(ctx context.Context, tenant string) (Head, error)
	// WalkAudit reads from one consistent snapshot the tenant's head,
	// passed to head, then every event stored for the tenant in seq order,
	// passed to each. The record passed to each is reused: copy what must
	// outlive the call. An error from head or each ends the walk and is
	// returned.
	WalkAudit(ctx context.Context, tenant string, head func(Head) error, each func(*Record) error) error
	// EachAuditRecord streams the tenant's events from to to (inclusive)
	// in seq order; the record is reused as in WalkAudit.
	EachAuditRecord(ctx context.Context, tenant string, from, to int64, each func(*Record) error) error
	// ListAuditRecords returns one page of the System Log (q normalized).
	ListAuditRecords(ctx context.Context, tenant string, q Query) (page.Of[Record], error)
	// FirstAuditSeqFrom returns the lowest seq above after whose time is at
	// or after at, and false when there is none.
	FirstAuditSeqFrom(ctx context.Context, tenant string, after int64, at time.Time) (int64, bool, error)
	// DropArchived, inside the caller's transaction, moves the tenant's
	// anchor from from to to and deletes the events from from.Seq+1 to
	// to.Seq. It returns ErrArchiveRace when the anchor is no longer from,
	// and an error when the event at to.Seq does not have to.Hash.
	DropArchived(ctx context.Context, tenant string, from, to Anchor) error
	// AuditRetention returns the tenant's retention in days, 0 for forever.
	AuditRetention(ctx context.Context, tenant string) (int, error)
	// PutAuditRetention stores the tenant's retention in days (0: forever).
	PutAuditRetention(ctx context.Context, tenant string, days int) error
}

// DefaultArchiveBatch is how many events one archive file holds at most.
const DefaultArchiveBatch = 50_000

// MaxRetentionDays bounds the retention setting (a hundred years).
const MaxRetentionDays = 36_500

// Service queries, exports, verifies and archives the audit log. Appending
// is not here: each domain appends through its own store, inside the
// transaction of its change.
type Service struct {
	Store Store
	Now   func() time.Time
	// ArchiveDir holds each tenant's archive files in a directory named by
	// the tenant id (DATA/audit-archive).
	ArchiveDir   string
	ArchiveBatch int64 // events per archive file; 0 means DefaultArchiveBatch
}

// List returns one page of the System Log.
func (s *Service) List(ctx context.Context, tenant string, q Query) (page.Of[Record], error) {
	if err := q.Normalize(); err != nil {
		return page.Of[Record]{}, err
	}
	return s.Store.ListAuditRecords(ctx, tenant, q)
}

// SignIns returns one page of the sign-ins to an application: the events
// of SignInActions whose target is the application app.
func (s *Service) SignIns(ctx context.Context, tenant, app string, q Query) (page.Of[Record], error) {
	if app == "" {
		return page.Of[Record]{}, errkind.Field("application_id", "is required")
	}
	q.TargetType, q.TargetID, q.Actions = TargetApplication, app, SignInActions
	return s.List(ctx, tenant, q)
}

// Export streams the events from to to (inclusive; 0 for either end means
// the first or last event) in seq order. The record passed to each is reused.
func (s *Service) Export(ctx context.Context, tenant string, from, to int64, each func(*Record) error) error {
	var errs []error
	if from < 0 {
		errs = append(errs, errkind.Field("from_seq", "must be 1 or more"))
	}
	if to < 0 {
		errs = append(errs, errkind.Field("to_seq", "must be 1 or more"))
	}
	if from > 0 && to > 0 && to < from {
		errs = append(errs, errkind.Field("to_seq", "must not be below from_seq"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if to == 0 {
		to = math.MaxInt64
	}
	return s.Store.EachAuditRecord(ctx, tenant, max(from, 1), to, each)
}

var errStop = errors.New("stop")

// Verify recomputes the chain the database holds, from its anchor (the
// position after the last archived event) to the head. Archive files are not
// read: see VerifyAll.
func (s *Service) Verify(ctx context.Context, tenant string) (Result, error) {
	return s.verify(ctx, tenant, false)
}

// VerifyAll recomputes the whole chain: the tenant's archive files from the
// first event, across the boundary into the database, to the head.
func (s *Service) VerifyAll(ctx context.Context, tenant string) (Result, error) {
	if s.ArchiveDir == "" {
		return Result{}, ErrNoArchive
	}
	return s.verify(ctx, tenant, true)
}

func (s *Service) verify(ctx context.Context, tenant string, archives bool) (Result, error) {
	var (
		v        *Verifier
		head     Head
		archived int64
	)
	err := s.Store.WalkAudit(ctx, tenant, func(h Head) error {
		head = h
		if !archives {
			v = NewVerifier(tenant, h.Anchor)
			return nil
		}
		dir, err := s.tenantDir(tenant)
		if err != nil {
			return err
		}
		// Read the archive files in the same snapshot: the anchor cannot
		// move under us.
		if v, archived, err = verifyArchived(dir, tenant, h.Anchor.Seq); err != nil {
			return err
		}
		if h.Anchor.Seq > 0 && archived == 0 && !v.Broken() {
			v.fail(1, "events 1 to %d were archived but %s holds no archive file: restore the files, or verify the database alone",
				h.Anchor.Seq, dir)
		}
		if !v.Reach(h.Anchor, "the database's anchor (the last archived event)") {
			return errStop
		}
		return nil
	}, func(r *Record) error {
		if !v.Add(r) {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Result{}, fmt.Errorf("verify audit log: %w", err)
	}
	v.Reach(head.Last, "the head")
	res := v.Result(head.Last)
	res.Archived, res.Anchor = archived, head.Anchor
	return res, nil
}

// verifyArchived verifies the archive files of a tenant that end at or
// before upTo (the database's anchor). Files above it are left over from an
// archive run that never committed: their events are still in the database.
func verifyArchived(dir, tenant string, upTo int64) (*Verifier, int64, error) {
	v := NewVerifier(tenant, Anchor{})
	files, err := listArchives(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, f := range files {
		if f.first > upTo {
			break
		}
		if err := verifyArchive(filepath.Join(dir, f.name), tenant, v); err != nil {
			return nil, 0, err
		}
		if v.Broken() {
			break
		}
	}
	return v, v.checked, nil
}

// ArchiveResult reports an archive run.
type ArchiveResult struct {
	Files  []string // paths written
	Events int64    // events moved out of the database
	Anchor Anchor   // the database's anchor afterwards
	Cutoff time.Time
}

// Archive moves the tenant's events older than its retention out of the
// database into archive files, DefaultArchiveBatch events a file: each file
// is written and fsynced first, then its events are deleted and the anchor
// moved in one transaction that also appends an ActionArchived event. A
// tenant that keeps events forever (the default) is left alone. Runs on one
// data directory are serialised by a lock file; runs from two directories
// cannot both commit the same range.
func (s *Service) Archive(ctx context.Context, tenant string) (ArchiveResult, error) {
	var res ArchiveResult
	if s.ArchiveDir == "" {
		return res, ErrNoArchive
	}
	days, err := s.Store.AuditRetention(ctx, tenant)
	if err != nil || days == 0 {
		return res, err
	}
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return res, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return res, err
	}
	defer unlock()
	res.Cutoff = s.Now().Add(-time.Duration(days) * 24 * time.Hour)
	batch := s.ArchiveBatch
	if batch <= 0 {
		batch = DefaultArchiveBatch
	}
	for {
		head, err := s.Store.AuditHead(ctx, tenant)
		if err != nil {
			return res, err
		}
		res.Anchor = head.Anchor
		if err := removeLeftovers(dir, head.Anchor.Seq); err != nil {
			return res, err
		}
		last := head.Last.Seq
		if kept, ok, err := s.Store.FirstAuditSeqFrom(ctx, tenant, head.Anchor.Seq, res.Cutoff); err != nil {
			return res, err
		} else if ok {
			last = kept - 1
		}
		last = min(last, head.Anchor.Seq+batch)
		if last <= head.Anchor.Seq {
			return res, nil
		}
		m := Manifest{Format: ArchiveFormat, TenantID: tenant, FirstSeq: head.Anchor.Seq + 1, LastSeq: last,
			PrevHash: head.Anchor.Hash.String(), CreatedAt: nowText(s.Now())}
		path, end, err := writeArchive(dir, m, func(yield func(*Record) error) error {
			return s.Store.EachAuditRecord(ctx, tenant, m.FirstSeq, m.LastSeq, yield)
		})
		if err != nil {
			return res, err
		}
		err = s.Store.InTx(ctx, func(ctx context.Context) error {
			if err := s.Store.DropArchived(ctx, tenant, head.Anchor, end); err != nil {
				return err
			}
			return s.Store.AppendEvent(ctx, New(ctx, tenant, s.Now(), ActionArchived, TargetLog, tenant, map[string]any{
				"first_seq": m.FirstSeq, "last_seq": end.Seq, "last_hash": end.Hash.String(), "file": filepath.Base(path)}))
		})
		if err != nil {
			// A failed commit may still have committed (the reply was
			// lost): keep the file unless the anchor provably did not move.
			if h, herr := s.Store.AuditHead(ctx, tenant); herr == nil && h.Anchor == head.Anchor {
				os.Remove(path)
			} else if herr == nil && h.Anchor == end {
				err = nil
			}
			if err != nil {
				return res, fmt.Errorf("archive events %d to %d: %w", m.FirstSeq, end.Seq, err)
			}
		}
		res.Files = append(res.Files, path)
		res.Events += end.Seq - head.Anchor.Seq
		res.Anchor = end
	}
}

// removeLeftovers deletes archive files that start after the database's
// anchor: written by a run that never committed, so their events are still
// in the database (the lock file guarantees no run is under way).
func removeLeftovers(dir string, anchor int64) error {
	files, err := listArchives(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.first > anchor {
			if err := os.Remove(filepath.Join(dir, f.name)); err != nil {
				return fmt.Errorf("remove unfinished audit archive: %w", err)
			}
		}
	}
	return nil
}

// tenantDir is the tenant's archive directory. Tenant ids are generated,
// but a path is built from one: refuse anything that is not a plain name.
func (s *Service) tenantDir(tenant string) (string, error) {
	if tenant == "" || !filepath.IsLocal(tenant) || strings.ContainsAny(tenant, `/\`) {
		return "", fmt.Errorf("tenant id %q cannot name an archive directory", tenant)
	}
	return filepath.Join(s.ArchiveDir, tenant), nil
}

// TenantArchiveDir returns where the tenant's archive files live.
func (s *Service) TenantArchiveDir(tenant string) (string, error) { return s.tenantDir(tenant) }

// Retention returns the tenant's retention in days (0: forever).
func (s *Service) Retention(ctx context.Context, tenant string) (int, error) {
	return s.Store.AuditRetention(ctx, tenant)
}

// SetRetention changes the tenant's retention (0: keep forever), recording
// the change in the log itself.
func (s *Service) SetRetention(ctx context.Context, tenant string, days int) error {
	if days < 0 || days > MaxRetentionDays {
		return errkind.Field("retention_days", fmt.Sprintf("must be from 1 to %d, or null to keep events forever", MaxRetentionDays))
	}
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		old, err := s.Store.AuditRetention(ctx, tenant)
		if err != nil || old == days {
			return err
		}
		if err := s.Store.PutAuditRetention(ctx, tenant, days); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, New(ctx, tenant, s.Now(), ActionRetentionChanged, TargetLog, tenant,
			map[string]any{"retention_days": map[string]any{"old": old, "new": days}}))
	})
}
