package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// ErrNoAccess refuses to open an application the user may not use.
var ErrNoAccess = fmt.Errorf("you do not have access to this application: %w", errkind.Denied)

// Launch opens a bookmark application from the portal for the user of ses:
// only while their effective access includes it and it has somewhere to
// go. Each launch, allowed or refused, is an app.sso event, so the "who
// signed in to X" report covers bookmark applications too.
func (s *Service) Launch(ctx context.Context, ses *Session, app access.AppID) (string, error) {
	sc := tenant.Scope{Tenant: ses.Tenant}
	url, reason, err := s.launchTarget(ctx, sc, ses, app)
	if err != nil {
		return "", err
	}
	e := audit.New(ctx, string(ses.Tenant), s.Now(), audit.ActionSSO, audit.TargetApplication, string(app),
		map[string]any{"session_id": ses.ID, "protocol": "bookmark"})
	if reason != "" {
		e.Outcome = audit.Failure
		e.Details["reason"] = reason
	}
	if err := s.Store.AppendEvent(ctx, e); err != nil {
		return "", err
	}
	if reason != "" {
		return "", ErrNoAccess
	}
	return url, nil
}

func (s *Service) launchTarget(ctx context.Context, sc tenant.Scope, ses *Session, app access.AppID) (string, string, error) {
	a, err := s.Store.Application(ctx, sc.Tenant, app)
	if errors.Is(err, access.ErrAppNotFound) {
		return "", "", err
	}
	if err != nil {
		return "", "", err
	}
	ivs, err := s.Access.PermissionsAt(ctx, sc, ses.User, time.Time{})
	if err != nil {
		return "", "", err
	}
	switch {
	case !slices.ContainsFunc(ivs, func(iv access.Interval) bool { return iv.App == app }):
		return "", "not_assigned", nil
	case a.Kind != access.KindBookmark || a.LaunchURL == "":
		return "", "not_launchable", nil
	}
	return a.LaunchURL, "", nil
}
