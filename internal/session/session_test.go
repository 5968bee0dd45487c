package session_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// TestSessions runs the scenarios of this file and validate_cache_test.go
// (see runScenarios).
// Sessions: opening, validating, timing out, ending.
func TestSessions(t *testing.T) {
	t.Parallel()
	runScenarios(t,
		scenario{"SignInOpensSessionThatValidates", testSignInOpensSessionThatValidates},
		scenario{"IdleTimeout", testIdleTimeout},
		scenario{"AbsoluteTimeout", testAbsoluteTimeout},
		scenario{"SessionsEndWhenUserMayNoLongerSignIn", testSessionsEndWhenUserMayNoLongerSignIn},
		scenario{"RevokeAndSignOut", testRevokeAndSignOut},
		scenario{"OrgScopedCallerReachesOnlyItsUsers", testOrgScopedCallerReachesOnlyItsUsers},
		scenario{"CacheForgetsSessionRevokedDuringTouch", testCacheForgetsSessionRevokedDuringTouch},
		scenario{"ActivityIsWrittenByFlush", testActivityIsWrittenByFlush},
		scenario{"PurgeExpired", testPurgeExpired},
	)
}

func testSignInOpensSessionThatValidates(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")

	out := f.mustSignIn(t, "alice", goodPassword)
	s := out.Session
	if out.User == nil || out.User.ID != alice.ID || s.User != alice.ID || s.Tenant != f.tenant {
		t.Fatalf("session of the wrong user or tenant: %+v", s)
	}
	if len(out.Token) != 43 {
		t.Errorf("token length %d, want 43", len(out.Token))
	}
	if !slices.Equal(s.AMR, []string{session.AMRPassword}) || s.MFA() {
		t.Errorf("AMR %v, MFA %v; want [pwd] without MFA", s.AMR, s.MFA())
	}
	p := session.DefaultPolicy()
	if !s.Created.Equal(f.start) || !s.LastSeen.Equal(f.start) || !s.IdleUntil.Equal(f.start.Add(p.IdleTimeout.Duration())) ||
		!s.Expires.Equal(f.start.Add(p.AbsoluteTimeout.Duration())) {
		t.Errorf("times: created %v last seen %v idle until %v expires %v", s.Created, s.LastSeen, s.IdleUntil, s.Expires)
	}
	if s.ClientIP != client.IP || s.UserAgent != client.UserAgent {
		t.Errorf("client %q %q", s.ClientIP, s.UserAgent)
	}

	got, err := f.ses.Validate(f.ctx, f.tenant, out.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.User != alice.ID || !slices.Equal(got.AMR, s.AMR) || !got.Created.Equal(s.Created) ||
		!got.IdleUntil.Equal(s.IdleUntil) || !got.Expires.Equal(s.Expires) || got.MFA() {
		t.Errorf("validated session differs:\n got %+v\nwant %+v", got, s)
	}

	// The email and any case of the username sign in too.
	f.clk.Advance(time.Millisecond) // ids order by millisecond
	f.mustSignIn(t, "ALICE@Example.com", goodPassword)
	f.clk.Advance(time.Millisecond)
	f.mustSignIn(t, "Alice", goodPassword)
	list, err := f.ses.Sessions(f.ctx, f.sc, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(list))
	}
	if list[2].ID != s.ID {
		t.Errorf("sessions not newest first: %v", []session.ID{list[0].ID, list[1].ID, list[2].ID})
	}

	// Anything but the exact token of this tenant is no session.
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	other := f.otherTenant(t, "globex")
	if _, err := f.srv.Users.Create(f.ctx, tenant.Scope{Tenant: other}, user.NewUser{Username: "alice", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	foreign, err := f.ses.SignIn(f.ctx, other, session.Attempt{Login: "alice", Password: goodPassword})
	if err != nil || foreign.Token == "" {
		t.Fatalf("sign in at the other tenant: %+v, %v", foreign, err)
	}
	for name, tok := range map[string]string{
		"random":            base64.RawURLEncoding.EncodeToString(random),
		"another tenant's":  foreign.Token,
		"empty":             "",
		"short":             out.Token[:42],
		"long":              out.Token + "A",
		"one character off": flip(out.Token),
		"padded":            out.Token + "=",
		"upper-cased":       strings.ToUpper(out.Token),
	} {
		if tok == out.Token {
			continue
		}
		if _, err := f.ses.Validate(f.ctx, f.tenant, tok); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s token: err = %v, want ErrNoSession", name, err)
		}
	}
	if !errors.Is(session.ErrNoSession, errkind.Unauthenticated) {
		t.Error("ErrNoSession is not an Unauthenticated error")
	}
	// ... and this tenant's token is no session at the other tenant.
	if _, err := f.ses.Validate(f.ctx, other, out.Token); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("token used at another tenant: err = %v", err)
	}
	if _, err := f.ses.Validate(f.ctx, other, foreign.Token); err != nil {
		t.Errorf("the other tenant's own token: %v", err)
	}

	// The success is audited with the session id and methods.
	var ok []event
	for _, e := range f.events(t, audit.ActionSignIn) {
		if e.Outcome == audit.Success {
			ok = append(ok, e)
		}
	}
	if len(ok) != 3 || ok[0].details["session_id"] != string(s.ID) || ok[0].TargetType != "user" ||
		ok[0].TargetID != string(alice.ID) || ok[0].Actor.Type != "user" || ok[0].Actor.ID != string(alice.ID) {
		t.Errorf("sign-in success events: %+v", ok)
	}
}

// flip changes the first character of a token to another base64url one.
func flip(tok string) string {
	c := byte('A')
	if tok[0] == 'A' {
		c = 'B'
	}
	return string(c) + tok[1:]
}

func testIdleTimeout(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	f.newUser(t, "bob")
	idle := session.DefaultPolicy().IdleTimeout.Duration() // 30 min
	a := f.mustSignIn(t, "alice", goodPassword).Token
	b := f.mustSignIn(t, "bob", goodPassword).Token

	// Within a minute of the last write, activity is not written.
	f.clk.Advance(30 * time.Second)
	for _, tok := range []string{a, b} {
		s, err := f.ses.Validate(f.ctx, f.tenant, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !s.LastSeen.Equal(f.start) || !s.IdleUntil.Equal(f.start.Add(idle)) {
			t.Errorf("touched within the first minute: last seen %v, idle until %v", s.LastSeen, s.IdleUntil)
		}
	}

	// Later activity extends the idle timeout, and the store keeps it.
	at := f.clk.Advance(20 * time.Minute)
	s, err := f.ses.Validate(f.ctx, f.tenant, a)
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastSeen.Equal(at) || !s.IdleUntil.Equal(at.Add(idle)) {
		t.Errorf("after 20 min: last seen %v, idle until %v; want %v, %v", s.LastSeen, s.IdleUntil, at, at.Add(idle))
	}
	f.clk.Advance(59 * time.Second)
	s, err = f.ses.Validate(f.ctx, f.tenant, a)
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastSeen.Equal(at) || !s.IdleUntil.Equal(at.Add(idle)) {
		t.Errorf("read back: last seen %v, idle until %v; want %v, %v", s.LastSeen, s.IdleUntil, at, at.Add(idle))
	}

	// Bob's use at 30 s was not written, so his session ends 30 min after
	// sign-in; Alice's lives on until 30 min after her last written use.
	// (Checking Bob just before would be a use and extend it.)
	f.clk.Set(f.start.Add(idle))
	f.wantLive(t, "bob at the idle timeout", b, false)
	f.clk.Set(at.Add(idle))
	f.wantLive(t, "alice at the idle timeout after her last use", a, false)

	// Ended sessions are not listed (testPurgeExpired deletes them).
	list, err := f.ses.Sessions(f.ctx, f.sc, s.User)
	if err != nil || len(list) != 0 {
		t.Errorf("sessions after idle timeout: %d, %v", len(list), err)
	}
}

func testAbsoluteTimeout(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	f.setPolicy(t, func(p *session.Policy) { p.IdleTimeout, p.AbsoluteTimeout = 600, 1800 })
	out := f.mustSignIn(t, "alice", goodPassword)
	if want := f.start.Add(30 * time.Minute); !out.Session.Expires.Equal(want) || !out.Session.IdleUntil.Equal(f.start.Add(10*time.Minute)) {
		t.Fatalf("expires %v idle until %v", out.Session.Expires, out.Session.IdleUntil)
	}
	// Busy every five minutes: idle never strikes, the absolute end does.
	for i := 1; i < 6; i++ {
		f.clk.Advance(5 * time.Minute)
		f.wantLive(t, "busy session", out.Token, true)
	}
	f.clk.Advance(5*time.Minute - time.Microsecond)
	f.wantLive(t, "just before the absolute end", out.Token, true)
	f.clk.Advance(time.Microsecond)
	f.wantLive(t, "at the absolute end", out.Token, false)
}

func testSessionsEndWhenUserMayNoLongerSignIn(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	bob := f.newUser(t, "bob")
	carol := f.newUser(t, "carol")
	a1 := f.mustSignIn(t, "alice", goodPassword).Token
	a2 := f.mustSignIn(t, "alice", goodPassword).Token
	b1 := f.mustSignIn(t, "bob", goodPassword).Token
	c1 := f.mustSignIn(t, "carol", goodPassword).Token

	f.transition(t, alice.ID, user.OpSuspend)
	f.wantLive(t, "alice after suspension", a1, false)
	f.wantLive(t, "alice's second session after suspension", a2, false)
	f.wantLive(t, "bob", b1, true)
	ev := f.events(t, "session.revoked_all")
	if len(ev) != 1 || ev[0].TargetID != string(alice.ID) || ev[0].details["reason"] != "user suspended" || ev[0].details["sessions"] != 2.0 {
		t.Errorf("revoked_all events: %+v", ev)
	}
	// Unsuspending does not bring sessions back; signing in works again.
	f.transition(t, alice.ID, user.OpUnsuspend)
	f.wantLive(t, "alice after unsuspension", a1, false)
	f.mustSignIn(t, "alice", goodPassword)

	f.transition(t, bob.ID, user.OpDeactivate)
	f.wantLive(t, "bob after deactivation", b1, false)
	if _, err := f.signIn("bob", goodPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("deactivated bob signs in: %v", err)
	}

	// A locked user keeps sessions (lockout is about guessing, not them).
	f.transition(t, carol.ID, user.OpLock)
	f.wantLive(t, "carol after lock", c1, true)
}

func testRevokeAndSignOut(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	bob := f.newUser(t, "bob")
	a := []*session.Outcome{f.mustSignIn(t, "alice", goodPassword), f.mustSignIn(t, "alice", goodPassword),
		f.mustSignIn(t, "alice", goodPassword), f.mustSignIn(t, "alice", goodPassword)}
	b := f.mustSignIn(t, "bob", goodPassword)

	// Revoking another user's session through Alice: not found, no change.
	before := f.fingerprint(t)
	err := f.ses.Revoke(f.ctx, f.sc, alice.ID, b.Session.ID, "admin")
	wantErr(t, "revoke bob's session as alice's", err, session.ErrNotFound)
	if !errors.Is(err, errkind.NotFound) {
		t.Errorf("not a NotFound: %v", err)
	}
	if f.fingerprint(t) != before {
		t.Error("revoking another user's session changed the database")
	}
	f.wantLive(t, "bob after the refused revoke", b.Token, true)
	wantErr(t, "revoke an unknown session", f.ses.Revoke(f.ctx, f.sc, alice.ID, "ses_unknown", "admin"), session.ErrNotFound)
	wantErr(t, "revoke for an unknown user", f.ses.Revoke(f.ctx, f.sc, "usr_unknown", a[0].Session.ID, "admin"), user.ErrNotFound)

	// Revoke one.
	if err := f.ses.Revoke(f.ctx, f.sc, alice.ID, a[3].Session.ID, "lost laptop"); err != nil {
		t.Fatal(err)
	}
	f.wantLive(t, "revoked session", a[3].Token, false)
	f.wantLive(t, "other session", a[0].Token, true)
	if ev := f.events(t, "session.revoked"); len(ev) != 1 || ev[0].details["reason"] != "lost laptop" ||
		ev[0].details["session_id"] != string(a[3].Session.ID) {
		t.Errorf("revoke events: %+v", ev)
	}
	wantErr(t, "revoke it again", f.ses.Revoke(f.ctx, f.sc, alice.ID, a[3].Session.ID, "again"), session.ErrNotFound)

	// Everywhere else.
	n, err := f.ses.RevokeAll(f.ctx, f.sc, alice.ID, a[0].Session.ID, "sign out elsewhere")
	if err != nil || n != 2 {
		t.Fatalf("revoke all but one: %d, %v; want 2", n, err)
	}
	f.wantLive(t, "kept session", a[0].Token, true)
	f.wantLive(t, "second session", a[1].Token, false)
	f.wantLive(t, "third session", a[2].Token, false)
	f.wantLive(t, "bob", b.Token, true)
	if n, err := f.ses.RevokeAll(f.ctx, f.sc, alice.ID, a[0].Session.ID, "again"); err != nil || n != 0 {
		t.Errorf("nothing left to revoke: %d, %v", n, err)
	}
	if ev := f.events(t, "session.revoked_all"); len(ev) != 1 || ev[0].details["kept_session_id"] != string(a[0].Session.ID) {
		t.Errorf("revoked_all events (none for nothing revoked): %+v", ev)
	}

	// Sign out.
	s, err := f.ses.Validate(f.ctx, f.tenant, a[0].Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ses.SignOut(f.ctx, s); err != nil {
		t.Fatal(err)
	}
	f.wantLive(t, "signed out", a[0].Token, false)
	if err := f.ses.SignOut(f.ctx, s); err != nil {
		t.Errorf("signing out twice: %v", err)
	}
	if ev := f.events(t, "session.signed_out"); len(ev) != 1 {
		t.Errorf("%d signed_out events, want 1", len(ev))
	}

	// All, keeping none.
	f.mustSignIn(t, "bob", goodPassword)
	if n, err := f.ses.RevokeAll(f.ctx, f.sc, bob.ID, "", "admin"); err != nil || n != 2 {
		t.Errorf("revoke all of bob's: %d, %v; want 2", n, err)
	}
	f.wantLive(t, "bob after revoke all", b.Token, false)
}

func testOrgScopedCallerReachesOnlyItsUsers(t *testing.T, f *fixture) {
	org, err := f.srv.Tenants.CreateOrganization(f.ctx, f.sc, tenant.NewOrganization{Name: "Initech"})
	if err != nil {
		t.Fatal(err)
	}
	orgSc := tenant.Scope{Tenant: f.tenant, Org: org.ID}
	inOrg := f.newUserIn(t, orgSc, "peter")
	outside := f.newUser(t, "alice")
	p := f.mustSignIn(t, "peter", goodPassword)
	a := f.mustSignIn(t, "alice", goodPassword)

	before := f.fingerprint(t)
	wantErr(t, "org admin revokes an outside user's session", f.ses.Revoke(f.ctx, orgSc, outside.ID, a.Session.ID, "x"), user.ErrNotFound)
	if _, err := f.ses.RevokeAll(f.ctx, orgSc, outside.ID, "", "x"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("org admin revokes all of an outside user: %v", err)
	}
	if _, err := f.ses.Sessions(f.ctx, orgSc, outside.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("org admin lists an outside user's sessions: %v", err)
	}
	if f.fingerprint(t) != before {
		t.Error("refused org-scoped calls changed the database")
	}
	if err := f.ses.Revoke(f.ctx, orgSc, inOrg.ID, p.Session.ID, "x"); err != nil {
		t.Errorf("org admin revokes their own user's session: %v", err)
	}
	f.wantLive(t, "outside user's session", a.Token, true)
}

// Purging works across tenants: the scenario first clears what earlier
// scenarios left (all of it stale a week of fake time later), then counts.
func testPurgeExpired(t *testing.T, f *fixture) {
	if _, err := f.ses.PurgeExpired(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.newUser(t, "alice")
	f.newUser(t, "bob")
	live := f.mustSignIn(t, "alice", goodPassword).Token
	if _, err := f.ses.RequestRecovery(f.ctx, f.tenant, "bob"); err != nil { // a reset token
		t.Fatal(err)
	}
	if _, err := f.signIn("ghost", wrongPassword); !errors.Is(err, user.ErrBadCredentials) { // a failure counter
		t.Fatal(err)
	}
	if n, err := f.ses.PurgeExpired(f.ctx); err != nil || n != 0 {
		t.Fatalf("purge with nothing expired: %d, %v", n, err)
	}
	f.clk.Advance(25 * time.Hour)
	if n, err := f.ses.PurgeExpired(f.ctx); err != nil || n != 3 {
		t.Errorf("purge: %d, %v; want 3 (a session, a token, a failure counter)", n, err)
	}
	if n, err := f.ses.PurgeExpired(f.ctx); err != nil || n != 0 {
		t.Errorf("second purge: %d, %v", n, err)
	}
	f.wantLive(t, "purged session", live, false)
}
