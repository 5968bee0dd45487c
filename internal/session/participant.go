package session

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/tenant"
)

// SSOParticipant is an application that received an assertion within a
// session, with what it knows the user and the session by: single logout
// (SAML profiles §4.4) tells it which session ended. It outlives the
// session until the logout has reached it.
type SSOParticipant struct {
	Tenant       tenant.ID
	Session      ID
	App          access.AppID
	NameID       string
	NameIDFormat string
	SessionIndex string
	Created      time.Time
}

// PurposeLogout is the single-use hand-over of an ended session's logout
// from the sign-out page to the protocol that propagates it.
const PurposeLogout = "logout"

// logoutHandOver is how long a hand-over waits for the browser.
const logoutHandOver = 10 * time.Minute

// participantMemory is how long the participants of a session that is gone
// are kept for a logout still propagating.
const participantMemory = time.Hour

type participantStore interface {
	AddSSOParticipant(ctx context.Context, p *SSOParticipant) error
	SSOParticipants(ctx context.Context, t tenant.ID, sid ID) ([]SSOParticipant, error)
	DeleteSSOParticipants(ctx context.Context, t tenant.ID, sid ID) (int, error)
	DeleteStaleSSOParticipants(ctx context.Context, before time.Time) (int, error)
}

// AddSSOParticipant remembers that p.App received an assertion within
// p.Session.
func (s *Service) AddSSOParticipant(ctx context.Context, p *SSOParticipant) error {
	p.Created = s.Now()
	if err := s.Store.AddSSOParticipant(ctx, p); err != nil {
		return fmt.Errorf("record participant %s: %w", p.App, err)
	}
	return nil
}

// SSOParticipants lists the applications that took part in session sid of
// tenant t, in the order they joined.
func (s *Service) SSOParticipants(ctx context.Context, t tenant.ID, sid ID) ([]SSOParticipant, error) {
	return s.Store.SSOParticipants(ctx, t, sid)
}

// RemoveSSOParticipants forgets them, once a logout has reached them.
func (s *Service) RemoveSSOParticipants(ctx context.Context, t tenant.ID, sid ID) error {
	_, err := s.Store.DeleteSSOParticipants(ctx, t, sid)
	return err
}

// HandOverLogout returns a single-use secret that lets a protocol adapter
// propagate the logout of ses, which has just ended, to its participants;
// "" when no application took part.
func (s *Service) HandOverLogout(ctx context.Context, ses *Session) (string, error) {
	ps, err := s.SSOParticipants(ctx, ses.Tenant, ses.ID)
	if err != nil || len(ps) == 0 {
		return "", err
	}
	return s.IssueToken(ctx, ses.Tenant, PurposeLogout, ses.User, map[string]string{"session": string(ses.ID)}, logoutHandOver)
}

// TakeLogout uses up a hand-over and returns the ended session it names
// and its user; ErrTokenInvalid when it is unknown, used or expired.
func (s *Service) TakeLogout(ctx context.Context, t tenant.ID, secret string) (*Session, error) {
	tok, err := s.ConsumeToken(ctx, t, PurposeLogout, secret)
	if err != nil {
		return nil, err
	}
	return &Session{Tenant: t, ID: ID(tok.Data["session"]), User: tok.User}, nil
}

// RecordSLO audits a single logout at app (SAML profiles §4.4) for session
// sid: initiatedBy "sp" or "idp", and a reason when it failed.
func (s *Service) RecordSLO(ctx context.Context, t tenant.ID, sid ID, app access.AppID, initiatedBy, reason string,
	details map[string]any) error {
	d := map[string]any{"session_id": sid, "initiated_by": initiatedBy, "protocol": "saml"}
	maps.Copy(d, details)
	e := audit.New(ctx, string(t), s.Now(), audit.ActionSLO, audit.TargetApplication, string(app), d)
	if reason != "" {
		e.Outcome = audit.Failure
		d["reason"] = reason
	}
	return s.Store.AppendEvent(ctx, e)
}
