package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/session"
)

// Single logout's memory: the applications a session reached.
func TestSSOParticipants(t *testing.T) {
	t.Parallel()
	runScenarios(t,
		scenario{"ParticipantsOutliveTheSessionUntilPurged", testParticipantsOutliveSession},
		scenario{"LogoutHandOverIsSingleUse", testLogoutHandOver},
		scenario{"AnswerIsRecordedWhole", testRecordAnswer},
	)
}

// An answer's request id, event and participant are recorded together, and
// a replayed request records none of them.
func testRecordAnswer(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	ses := f.mustSignIn(t, "alice", goodPassword).Session
	app, err := f.srv.Access.CreateApplication(f.ctx, f.sc, access.NewApplication{Name: "CRM", Kind: access.KindSAML})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(id string, participant bool) error {
		a := session.SSOAnswer{App: app.ID, Protocol: "saml", Details: map[string]any{"in_response_to": id},
			Request: &session.SSORequest{Tenant: f.tenant, App: app.ID, ID: id, Expires: f.clk.Now().Add(time.Hour)}}
		if participant {
			a.Participant = &session.SSOParticipant{Tenant: f.tenant, Session: ses.ID, App: app.ID, NameID: id,
				NameIDFormat: access.NameIDFormatEmail, SessionIndex: "_" + id}
		} else {
			a.Reason = "not_assigned"
		}
		return f.ses.RecordAnswer(f.ctx, ses, a)
	}
	if err := answer("_r1", true); err != nil {
		t.Fatal(err)
	}
	if err := answer("_r2", false); err != nil {
		t.Fatal(err)
	}
	for _, replay := range []struct {
		id          string
		participant bool
	}{{"_r1", true}, {"_r1", false}, {"_r2", true}} {
		if err := answer(replay.id, replay.participant); !errors.Is(err, session.ErrReplay) {
			t.Fatalf("replayed %s: %v", replay.id, err)
		}
	}
	evs := f.events(t, audit.ActionSSO)
	if len(evs) != 2 || evs[0].Outcome != audit.Success || evs[0].details["in_response_to"] != "_r1" ||
		evs[1].Outcome != audit.Failure || evs[1].details["reason"] != "not_assigned" {
		t.Fatalf("app.sso events: %+v", evs)
	}
	ps, err := f.ses.SSOParticipants(f.ctx, f.tenant, ses.ID)
	if err != nil || len(ps) != 1 || ps[0].NameID != "_r1" {
		t.Fatalf("participants: %+v, %v", ps, err)
	}
}

func testParticipantsOutliveSession(t *testing.T, f *fixture) {
	f.setPolicy(t, func(p *session.Policy) { p.IdleTimeout = 3 * 3600 }) // the live session outlives the wait below
	f.newUser(t, "alice")
	ended := f.mustSignIn(t, "alice", goodPassword).Session
	live := f.mustSignIn(t, "alice", goodPassword).Session
	for _, ses := range []*session.Session{ended, live} {
		for _, app := range []access.AppID{"app_a", "app_b"} {
			p := &session.SSOParticipant{Tenant: f.tenant, Session: ses.ID, App: app, NameID: "alice@example.com",
				NameIDFormat: access.NameIDFormatEmail, SessionIndex: "_" + string(app)}
			if err := f.ses.AddSSOParticipant(f.ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A second assertion to the same application replaces what it knows.
	if err := f.ses.AddSSOParticipant(f.ctx, &session.SSOParticipant{Tenant: f.tenant, Session: ended.ID, App: "app_a",
		NameID: "alice2@example.com", NameIDFormat: access.NameIDFormatEmail, SessionIndex: "_a2"}); err != nil {
		t.Fatal(err)
	}
	if err := f.ses.SignOut(f.ctx, ended); err != nil {
		t.Fatal(err)
	}
	ps, err := f.ses.SSOParticipants(f.ctx, f.tenant, ended.ID)
	if err != nil || len(ps) != 2 || ps[0].App != "app_a" || ps[0].NameID != "alice2@example.com" || ps[0].SessionIndex != "_a2" {
		t.Fatalf("participants of the ended session: %+v, %v", ps, err)
	}
	if other, err := f.ses.SSOParticipants(f.ctx, f.otherTenant(t, "other"), ended.ID); err != nil || len(other) != 0 {
		t.Fatalf("another tenant sees %+v, %v", other, err)
	}
	if _, err := f.ses.PurgeExpired(f.ctx); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.ses.SSOParticipants(f.ctx, f.tenant, ended.ID); len(ps) != 2 {
		t.Fatalf("purged at once: %+v", ps)
	}
	f.clk.Advance(2 * time.Hour)
	if _, err := f.ses.PurgeExpired(f.ctx); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.ses.SSOParticipants(f.ctx, f.tenant, ended.ID); len(ps) != 0 {
		t.Fatalf("participants of a session gone for two hours: %+v", ps)
	}
	if ps, _ := f.ses.SSOParticipants(f.ctx, f.tenant, live.ID); len(ps) != 2 {
		t.Fatalf("participants of the live session: %+v", ps)
	}
	if err := f.ses.RemoveSSOParticipants(f.ctx, f.tenant, live.ID); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.ses.SSOParticipants(f.ctx, f.tenant, live.ID); len(ps) != 0 {
		t.Fatalf("removed participants: %+v", ps)
	}
}

func testLogoutHandOver(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	ses := f.mustSignIn(t, "alice", goodPassword).Session
	if secret, err := f.ses.HandOverLogout(f.ctx, ses); err != nil || secret != "" {
		t.Fatalf("hand-over without participants: %q, %v", secret, err)
	}
	if err := f.ses.AddSSOParticipant(f.ctx, &session.SSOParticipant{Tenant: f.tenant, Session: ses.ID, App: "app_a",
		NameID: "x", NameIDFormat: access.NameIDFormatEmail, SessionIndex: "_x"}); err != nil {
		t.Fatal(err)
	}
	secret, err := f.ses.HandOverLogout(f.ctx, ses)
	if err != nil || secret == "" {
		t.Fatalf("hand-over: %q, %v", secret, err)
	}
	if _, err := f.ses.TakeLogout(f.ctx, f.otherTenant(t, "other"), secret); !errors.Is(err, session.ErrTokenInvalid) {
		t.Fatalf("taken in another tenant: %v", err)
	}
	// A foreign use burns the secret like any other use; take a new one.
	if secret, err = f.ses.HandOverLogout(f.ctx, ses); err != nil {
		t.Fatal(err)
	}
	got, err := f.ses.TakeLogout(f.ctx, f.tenant, secret)
	if err != nil || got.ID != ses.ID || got.User != ses.User {
		t.Fatalf("take: %+v, %v", got, err)
	}
	if _, err := f.ses.TakeLogout(f.ctx, f.tenant, secret); !errors.Is(err, session.ErrTokenInvalid) {
		t.Fatalf("taken twice: %v", err)
	}
}
