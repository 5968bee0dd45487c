package access

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

var errReportScope = fmt.Errorf("organization-scoped callers can ask only about their own users: %w", errkind.Denied)

// AccountsAt pages the users who had access to an application at q.At
// (now when zero), with every role and path. Tenant-wide callers only: an
// application's accounts span organizations.
func (s *Service) AccountsAt(ctx context.Context, sc tenant.Scope, q AccountQuery) (page.Of[Account], error) {
	if !sc.TenantWide() {
		return page.Of[Account]{}, errReportScope
	}
	// No existence check: history outlives a deleted application, and an
	// unknown id simply has no accounts.
	if err := q.Normalize("user"); err != nil {
		return page.Of[Account]{}, err
	}
	if q.At.IsZero() {
		q.At = s.Now()
	}
	return s.Store.AccountsAt(ctx, sc.Tenant, q)
}

// PermissionsAt lists what a user could use at an instant (now when zero) and
// through what.
func (s *Service) PermissionsAt(ctx context.Context, sc tenant.Scope, uid user.ID, at time.Time) ([]Interval, error) {
	if !sc.TenantWide() {
		// The user may be deleted by now: only a live user of the
		// caller's organization can be asked about.
		u, err := s.Store.User(ctx, sc.Tenant, uid)
		if err != nil || !sc.Allows(u.Org) {
			return nil, errReportScope
		}
	}
	if at.IsZero() {
		at = s.Now()
	}
	return s.Store.PermissionsAt(ctx, sc.Tenant, uid, at)
}

// AccessChanges pages the grants that began or ended for an application in
// [Since, Until), oldest first.
func (s *Service) AccessChanges(ctx context.Context, sc tenant.Scope, q ChangeQuery) (page.Of[Change], error) {
	if !sc.TenantWide() {
		return page.Of[Change]{}, errReportScope
	}
	if err := q.Normalize("at"); err != nil {
		return page.Of[Change]{}, err
	}
	if q.Until.IsZero() {
		q.Until = s.Now().Add(time.Microsecond)
	}
	if q.Since.IsZero() {
		q.Since = time.Unix(0, 0).UTC() // from the beginning
	}
	if !q.Since.Before(q.Until) {
		return page.Of[Change]{}, errkind.Field("since", "must be before until")
	}
	return s.Store.AccessChanges(ctx, sc.Tenant, q)
}
