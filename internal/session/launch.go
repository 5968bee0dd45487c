package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	if err := s.RecordSSO(ctx, ses, app, "bookmark", reason, nil); err != nil {
		return "", err
	}
	if reason != "" {
		return "", ErrNoAccess
	}
	return url, nil
}

// RecordSSO records that the user of ses was sent to app over protocol
// ("bookmark", "saml"), or refused for reason when that is set: the app.sso
// event behind "who signed in to X". details add protocol facts (never a
// secret).
func (s *Service) RecordSSO(ctx context.Context, ses *Session, app access.AppID, protocol, reason string, details map[string]any) error {
	d := map[string]any{"session_id": ses.ID, "protocol": protocol}
	maps.Copy(d, details)
	e := audit.New(ctx, string(ses.Tenant), s.Now(), audit.ActionSSO, audit.TargetApplication, string(app), d)
	if reason != "" {
		e.Outcome = audit.Failure
		d["reason"] = reason
	}
	return s.Store.AppendEvent(ctx, e)
}

// SSOAnswer is what answering a sign-in request records: the request's id
// (Request, nil when there is none or it was recorded when held), the
// app.sso event (Reason set for a refusal) and, for an assertion that went
// out, the participant single logout will need (nil otherwise).
type SSOAnswer struct {
	Request     *SSORequest
	App         access.AppID
	Protocol    string
	Reason      string
	Details     map[string]any
	Participant *SSOParticipant
}

// RecordAnswer records a for the user of ses in one transaction: the answer
// may leave only once all of it is stored, and one commit costs less than
// three. ErrReplay, with nothing recorded, when the application sent the
// request's id before.
func (s *Service) RecordAnswer(ctx context.Context, ses *Session, a SSOAnswer) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if a.Request != nil {
			if err := s.RecordRequest(ctx, a.Request); err != nil {
				return err
			}
		}
		if err := s.RecordSSO(ctx, ses, a.App, a.Protocol, a.Reason, a.Details); err != nil {
			return err
		}
		if a.Participant == nil {
			return nil
		}
		return s.AddSSOParticipant(ctx, a.Participant)
	})
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
