package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/user"
)

// TestRecovery runs the scenarios of this file (see runScenarios).
// Links by mail (reset, unlock, verification) and password changes.
func TestRecovery(t *testing.T) {
	t.Parallel()
	runScenarios(t,
		scenario{"RequestRecovery", testRequestRecovery},
		scenario{"ResetPassword", testResetPassword},
		scenario{"ResetPasswordUnlocks", testResetPasswordUnlocks},
		scenario{"UnlockLink", testUnlockLink},
		scenario{"VerifyEmail", testVerifyEmail},
		scenario{"ChangePassword", testChangePassword},
		scenario{"ConcurrentResetPassword", testConcurrentResetPassword},
		scenario{"LinksStayInTheirTenant", testLinksStayInTheirTenant},
	)
}

func testRequestRecovery(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	sam := f.newUser(t, "sam")
	f.transition(t, sam.ID, user.OpSuspend)
	if _, err := f.srv.Users.Create(f.ctx, f.sc, user.NewUser{Username: "nomail", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}

	// Nothing for an unknown login, a user who may not sign in, or one
	// without an address: the caller answers the same way regardless.
	before := f.fingerprint(t)
	for _, login := range []string{"nobody", "nobody@example.com", "sam", "nomail", ""} {
		if l, err := f.ses.RequestRecovery(f.ctx, f.tenant, login); l != nil || err != nil {
			t.Errorf("recovery for %q: %+v, %v; want nil, nil", login, l, err)
		}
	}
	if f.fingerprint(t) != before {
		t.Error("recovery requests without a link changed the database")
	}

	l, err := f.ses.RequestRecovery(f.ctx, f.tenant, "Alice@Example.com")
	if err != nil || l == nil {
		t.Fatalf("recovery for alice: %+v, %v", l, err)
	}
	if l.Purpose != session.PurposePasswordReset || l.Email != "alice@example.com" || l.TTL != 30*time.Minute ||
		l.User.ID != alice.ID || len(l.Token) != 43 {
		t.Errorf("link %+v", l)
	}
	if u, err := f.ses.LinkUser(f.ctx, f.tenant, session.PurposePasswordReset, l.Token); err != nil || u.ID != alice.ID {
		t.Errorf("link user: %+v, %v", u, err)
	}
	if _, err := f.ses.LinkUser(f.ctx, f.tenant, session.PurposeUnlock, l.Token); !errors.Is(err, session.ErrTokenInvalid) {
		t.Errorf("reset link as an unlock link: %v", err)
	}
	if ev := f.events(t, "session.recovery_requested"); len(ev) != 1 || ev[0].details["kind"] != session.PurposePasswordReset {
		t.Errorf("recovery events %+v", ev)
	}
	// A newer link voids the older.
	l2, err := f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil || l2 == nil {
		t.Fatal(err)
	}
	if _, err := f.ses.LinkUser(f.ctx, f.tenant, session.PurposePasswordReset, l.Token); !errors.Is(err, session.ErrTokenInvalid) {
		t.Errorf("older link still works: %v", err)
	}

	// A locked user gets an unlock link instead.
	f.transition(t, alice.ID, user.OpLock)
	l3, err := f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil || l3 == nil || l3.Purpose != session.PurposeUnlock || l3.TTL != time.Hour {
		t.Fatalf("recovery for a locked user: %+v, %v", l3, err)
	}
}

func testResetPassword(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	s1 := f.mustSignIn(t, "alice", goodPassword).Token
	s2 := f.mustSignIn(t, "alice", goodPassword).Token
	l, err := f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil {
		t.Fatal(err)
	}

	// Refused passwords leave the link usable and nothing changed.
	before := f.fingerprint(t)
	for _, pw := range []string{"short", "alice-rules-forever-2031"} {
		_, err := f.ses.ResetPassword(f.ctx, f.tenant, l.Token, pw)
		if !errors.Is(err, errkind.Invalid) || len(errkind.Fields(err)) == 0 || errkind.Fields(err)[0].Field != "password" {
			t.Errorf("reset to %q: %v, want an Invalid password error", pw, err)
		}
	}
	if f.fingerprint(t) != before {
		t.Error("refused resets changed the database")
	}
	f.wantLive(t, "session after a refused reset", s1, true)
	// Not at another tenant, nor as another kind of link.
	other := f.otherTenant(t, "globex")
	_, err = f.ses.ResetPassword(f.ctx, other, l.Token, otherPassword)
	wantErr(t, "reset link at another tenant", err, session.ErrTokenInvalid)
	_, err = f.ses.Unlock(f.ctx, f.tenant, l.Token)
	wantErr(t, "reset link as unlock link", err, session.ErrTokenInvalid)
	_, err = f.ses.VerifyEmail(f.ctx, f.tenant, l.Token)
	wantErr(t, "reset link as verification link", err, session.ErrTokenInvalid)

	u, err := f.ses.ResetPassword(f.ctx, f.tenant, l.Token, otherPassword)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != alice.ID || !u.PasswordChanged.Equal(f.clk.Now()) {
		t.Errorf("reset user %+v", u)
	}
	f.wantLive(t, "first session after reset", s1, false)
	f.wantLive(t, "second session after reset", s2, false)
	if _, err := f.signIn("alice", goodPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("old password after reset: %v", err)
	}
	f.mustSignIn(t, "alice", otherPassword)
	_, err = f.ses.ResetPassword(f.ctx, f.tenant, l.Token, thirdPassword)
	wantErr(t, "reset link used twice", err, session.ErrTokenInvalid)
	if ev := f.events(t, "session.revoked_all"); len(ev) != 1 || ev[0].details["reason"] != "password reset" || ev[0].details["sessions"] != 2.0 {
		t.Errorf("revoke events %+v", ev)
	}
	if ev := f.events(t, "user.password_set"); len(ev) != 2 || ev[1].Actor.Type != "user" || ev[1].Actor.ID != string(alice.ID) {
		t.Errorf("password events %+v", ev)
	}

	// Expiry: valid until 30 minutes, not at 31.
	l, err = f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(30*time.Minute - time.Microsecond)
	if _, err := f.ses.LinkUser(f.ctx, f.tenant, session.PurposePasswordReset, l.Token); err != nil {
		t.Errorf("link just before expiry: %v", err)
	}
	f.clk.Advance(time.Minute)
	_, err = f.ses.ResetPassword(f.ctx, f.tenant, l.Token, thirdPassword)
	wantErr(t, "expired reset link", err, session.ErrTokenInvalid)
	f.mustSignIn(t, "alice", otherPassword)
}

// A reset also lifts a lockout and forgets the failures.
func testResetPasswordUnlocks(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.setPolicy(t, func(p *session.Policy) { p.LockoutThreshold = 3 })
	l, err := f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if !f.user(t, alice.ID).Locked {
		t.Fatal("not locked")
	}
	u, err := f.ses.ResetPassword(f.ctx, f.tenant, l.Token, otherPassword)
	if err != nil {
		t.Fatal(err)
	}
	if u.Locked || f.user(t, alice.ID).Locked {
		t.Error("still locked after a reset")
	}
	// No delay left from the failures either.
	f.mustSignIn(t, "alice", otherPassword)
}

func testUnlockLink(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	for n := range 10 {
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", n+1, err)
		}
		f.clk.Advance(time.Minute)
	}
	if !f.user(t, alice.ID).Locked {
		t.Fatal("not locked after 10 failures")
	}
	l, err := f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil || l == nil || l.Purpose != session.PurposeUnlock {
		t.Fatalf("link %+v, %v", l, err)
	}
	_, err = f.ses.ResetPassword(f.ctx, f.tenant, l.Token, otherPassword)
	wantErr(t, "unlock link as reset link", err, session.ErrTokenInvalid)

	u, err := f.ses.Unlock(f.ctx, f.tenant, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	if u.Locked || f.user(t, alice.ID).Locked {
		t.Fatal("still locked")
	}
	if ev := f.events(t, "user.unlock"); len(ev) != 1 || ev[0].Actor.ID != string(alice.ID) {
		t.Errorf("unlock events %+v", ev)
	}
	// Failures forgotten: no delay, and one more typo does not lock.
	if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Fatalf("typo after unlock: %v", err)
	}
	if f.user(t, alice.ID).Locked {
		t.Error("locked again by one typo")
	}
	f.mustSignIn(t, "alice", goodPassword)
	_, err = f.ses.Unlock(f.ctx, f.tenant, l.Token)
	wantErr(t, "unlock link used twice", err, session.ErrTokenInvalid)

	// An expired unlock link does nothing.
	f.transition(t, alice.ID, user.OpLock)
	l, err = f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
	if err != nil || l == nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	_, err = f.ses.Unlock(f.ctx, f.tenant, l.Token)
	wantErr(t, "expired unlock link", err, session.ErrTokenInvalid)
	if !f.user(t, alice.ID).Locked {
		t.Error("an expired link unlocked")
	}
}

func testVerifyEmail(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	bob := f.newUser(t, "bob")
	if alice.PrimaryEmail().Verified {
		t.Fatal("fixture email already verified")
	}
	l, err := f.ses.RequestEmailVerification(f.ctx, f.tenant, alice.ID)
	if err != nil || l == nil || l.Purpose != session.PurposeVerifyEmail || l.Email != "alice@example.com" || l.TTL != 24*time.Hour {
		t.Fatalf("link %+v, %v", l, err)
	}
	_, err = f.ses.ResetPassword(f.ctx, f.tenant, l.Token, otherPassword)
	wantErr(t, "verification link as reset link", err, session.ErrTokenInvalid)
	u, err := f.ses.VerifyEmail(f.ctx, f.tenant, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !u.PrimaryEmail().Verified || !f.user(t, alice.ID).PrimaryEmail().Verified {
		t.Error("primary email not verified")
	}
	_, err = f.ses.VerifyEmail(f.ctx, f.tenant, l.Token)
	wantErr(t, "verification link used twice", err, session.ErrTokenInvalid)
	if l, err := f.ses.RequestEmailVerification(f.ctx, f.tenant, alice.ID); l != nil || err != nil {
		t.Errorf("verification of a verified address: %+v, %v", l, err)
	}
	if _, err := f.ses.RequestEmailVerification(f.ctx, f.tenant, "usr_unknown"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("verification for an unknown user: %v", err)
	}

	// The address changed after the link was sent: the link is void and
	// the new address stays unverified.
	l, err = f.ses.RequestEmailVerification(f.ctx, f.tenant, bob.ID)
	if err != nil || l == nil {
		t.Fatal(err)
	}
	emails := []user.Email{{Value: "robert@example.com", Primary: true}}
	if _, err := f.srv.Users.Update(f.ctx, f.sc, bob.ID, user.Patch{Emails: &emails}, 0); err != nil {
		t.Fatal(err)
	}
	_, err = f.ses.VerifyEmail(f.ctx, f.tenant, l.Token)
	wantErr(t, "link to a replaced address", err, session.ErrTokenInvalid)
	if f.user(t, bob.ID).PrimaryEmail().Verified {
		t.Error("the new address was verified by a link sent to the old one")
	}
}

func testChangePassword(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	f.newUser(t, "bob")
	bob := f.mustSignIn(t, "bob", goodPassword)
	cur := f.mustSignIn(t, "alice", goodPassword)
	other1 := f.mustSignIn(t, "alice", goodPassword).Token
	other2 := f.mustSignIn(t, "alice", goodPassword).Token

	// A wrong current password counts as a failed sign-in (throttle and
	// lockout) and changes nothing else.
	before := f.fingerprint(t)
	err := f.ses.ChangePassword(f.ctx, cur.Session, wrongPassword, otherPassword)
	wantErr(t, "wrong current password", err, user.ErrBadCredentials)
	if f.fingerprint(t) == before {
		t.Error("a wrong current password was not counted")
	}
	before = f.fingerprint(t)
	err = f.ses.ChangePassword(f.ctx, cur.Session, goodPassword, "short")
	if !errors.Is(err, errkind.Invalid) {
		t.Errorf("too short: %v", err)
	}
	if f.fingerprint(t) != before {
		t.Error("refused changes changed the database")
	}
	f.wantLive(t, "other session after refused changes", other1, true)

	if err := f.ses.ChangePassword(f.ctx, cur.Session, goodPassword, otherPassword); err != nil {
		t.Fatal(err)
	}
	f.wantLive(t, "the session that changed it", cur.Token, true)
	f.wantLive(t, "another session", other1, false)
	f.wantLive(t, "a third session", other2, false)
	f.wantLive(t, "bob's session", bob.Token, true)
	if _, err := f.signIn("alice", goodPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("old password: %v", err)
	}
	f.mustSignIn(t, "alice", otherPassword)
	if ev := f.events(t, "session.revoked_all"); len(ev) != 1 || ev[0].details["reason"] != "password changed" ||
		ev[0].details["kept_session_id"] != string(cur.Session.ID) {
		t.Errorf("revoke events %+v", ev)
	}
}

// Two uses of one link at the same time: exactly one wins, and its password
// is the one that works.
func testConcurrentResetPassword(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	pws := []string{otherPassword, thirdPassword}
	for round := range 4 {
		l, err := f.ses.RequestRecovery(f.ctx, f.tenant, "alice")
		if err != nil || l == nil {
			t.Fatal(err)
		}
		users := make([]*user.User, 2)
		errs := race(func() error {
			var err error
			users[0], err = f.ses.ResetPassword(f.ctx, f.tenant, l.Token, pws[0])
			return err
		}, func() error {
			var err error
			users[1], err = f.ses.ResetPassword(f.ctx, f.tenant, l.Token, pws[1])
			return err
		})
		oneWins(t, "one reset link used twice at once", errs, session.ErrTokenInvalid)
		won := 0
		if errs[0] != nil {
			won = 1
		}
		f.mustSignIn(t, "alice", pws[won])
		if _, err := f.signIn("alice", pws[1-won]); !errors.Is(err, user.ErrBadCredentials) {
			t.Errorf("round %d: the losing password works: %v", round, err)
		}
		f.clk.Advance(time.Minute)
	}
	if n := len(f.events(t, "user.password_set")); n != 5 {
		t.Errorf("%d password_set events, want 5 (the fixture's and one per round)", n)
	}
}

// Links and sessions of one tenant mean nothing in another, even for a user
// of the same name.
func testLinksStayInTheirTenant(t *testing.T, f *fixture) {
	f.newUser(t, "alice")
	other := f.otherTenant(t, "globex")
	if _, err := f.srv.Users.Create(f.ctx, tenant.Scope{Tenant: other}, user.NewUser{Username: "alice",
		Emails: []user.Email{{Value: "alice@example.com"}}, Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	l, err := f.ses.RequestRecovery(f.ctx, other, "alice")
	if err != nil || l == nil {
		t.Fatal(err)
	}
	before := f.fingerprint(t)
	if _, err := f.ses.ResetPassword(f.ctx, f.tenant, l.Token, otherPassword); !errors.Is(err, session.ErrTokenInvalid) {
		t.Errorf("the other tenant's link: %v", err)
	}
	if f.fingerprint(t) != before {
		t.Error("a foreign link changed the database")
	}
	f.mustSignIn(t, "alice", goodPassword)
	if _, err := f.ses.ResetPassword(f.ctx, other, l.Token, otherPassword); err != nil {
		t.Errorf("at its own tenant: %v", err)
	}
	f.mustSignIn(t, "alice", goodPassword) // this tenant's alice is untouched
}
