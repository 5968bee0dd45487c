package session_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/user"
)

// TestSignIn runs the scenarios of this file (see runScenarios).
// Password sign-in: refusals, throttle, lockout.
func TestSignIn(t *testing.T) {
	t.Parallel()
	runScenarios(t,
		scenario{"SignInFailuresLookAlike", testSignInFailuresLookAlike},
		scenario{"ThrottleSameForKnownAndUnknownAccounts", testThrottleSameForKnownAndUnknownAccounts},
		scenario{"Lockout", testLockout},
		scenario{"AdminUnlockStartsAfresh", testAdminUnlockStartsAfresh},
		scenario{"LockoutOff", testLockoutOff},
	)
}

// Every refused sign-in gives the same error, whatever the reason, and the
// audit log (for admins) tells the reasons apart.
func testSignInFailuresLookAlike(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	sam := f.newUser(t, "sam")
	lou := f.newUser(t, "lou")
	f.transition(t, sam.ID, user.OpSuspend)
	f.transition(t, lou.ID, user.OpLock)
	noPw, err := f.srv.Users.Create(f.ctx, f.sc, user.NewUser{Username: "nopass"})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		login, password, reason string
		target                  user.ID
	}{
		{"nobody", goodPassword, "unknown_account", ""},
		{"", goodPassword, "unknown_account", ""},
		{"alice", wrongPassword, "bad_password", alice.ID},
		{"alice@example.com", "", "bad_password", alice.ID},
		{"sam", goodPassword, "not_active", sam.ID},
		{"lou", goodPassword, "locked", lou.ID},
		{"nopass", goodPassword, "bad_password", noPw.ID},
	}
	var msgs []string
	for _, c := range cases {
		f.clk.Advance(time.Minute)
		out, err := f.signIn(c.login, c.password)
		if out != nil || !errors.Is(err, user.ErrBadCredentials) {
			t.Errorf("%s: got %+v, %v; want ErrBadCredentials", c.reason, out, err)
			continue
		}
		if _, ok := throttled(err); ok {
			t.Errorf("%s: throttled", c.reason)
		}
		msgs = append(msgs, err.Error())
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Errorf("error texts differ: %q and %q", msgs[0], m)
		}
	}

	var failures []event
	for _, e := range f.events(t, audit.ActionSignIn) {
		if e.Outcome != audit.Failure {
			t.Errorf("a successful sign-in was recorded: %+v", e)
			continue
		}
		failures = append(failures, e)
	}
	if len(failures) != len(cases) {
		t.Fatalf("%d failure events, want %d", len(failures), len(cases))
	}
	for i, c := range cases {
		e := failures[i]
		if e.details["reason"] != c.reason || e.details["login"] != c.login || e.details["method"] != session.AMRPassword ||
			e.TargetType != "user" || e.TargetID != string(c.target) {
			t.Errorf("event for %s: target %s %s, details %v", c.reason, e.TargetType, e.TargetID, e.details)
		}
		if c.target != "" && (e.Actor.Type != "user" || e.Actor.ID != string(c.target)) {
			t.Errorf("event for %s: actor %+v", c.reason, e.Actor)
		}
		if _, ok := e.details["password"]; ok {
			t.Errorf("event for %s carries the password", c.reason)
		}
	}
	if n, err := f.ses.Sessions(f.ctx, f.sc, alice.ID); err != nil || len(n) != 0 {
		t.Errorf("failures opened sessions: %v, %v", n, err)
	}
}

// After three failures in a row the next attempt within a second is refused
// unchecked, for a real account and an unknown login alike.
func testThrottleSameForKnownAndUnknownAccounts(t *testing.T, f *fixture) {
	f.newUser(t, "alice")

	type step struct {
		throttled bool
		wait      time.Duration
		bad       bool
	}
	run := func(login string) []step {
		var out []step
		record := func(err error) {
			te, ok := throttled(err)
			s := step{throttled: ok, bad: errors.Is(err, user.ErrBadCredentials)}
			if ok {
				s.wait = te.Wait
				if !errors.Is(err, errkind.Unauthenticated) || s.bad {
					t.Errorf("%s: throttled error %v is not just Unauthenticated", login, err)
				}
			}
			out = append(out, s)
		}
		for range 3 {
			_, err := f.signIn(login, wrongPassword)
			record(err)
		}
		// Right password, too soon: refused without being checked.
		out0, err := f.signIn(login, goodPassword)
		if out0 != nil {
			t.Errorf("%s: a throttled attempt signed in", login)
		}
		record(err)
		f.clk.Advance(999 * time.Millisecond)
		_, err = f.signIn(login, goodPassword)
		record(err)
		f.clk.Advance(time.Millisecond)
		return out
	}
	known := run("alice")
	unknown := run("ghost")
	want := []step{{bad: true}, {bad: true}, {bad: true}, {throttled: true, wait: time.Second}, {throttled: true, wait: time.Millisecond}}
	if !slices.Equal(known[:5], want) {
		t.Errorf("known account: %+v, want %+v", known, want)
	}
	if !slices.Equal(unknown, known) {
		t.Errorf("unknown login behaves differently:\nunknown %+v\n  known %+v", unknown, known)
	}
	// The same login in another case is the same subject.
	if _, err := f.signIn("GHOST", goodPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Fatalf("after the delay: %v", err)
	}
	if _, ok := throttled(must(f.signIn("Ghost", goodPassword))); !ok {
		t.Error("a differently cased unknown login escapes the throttle")
	}

	// Once the delay passed, the right password works and clears the run.
	out := f.mustSignIn(t, "alice", goodPassword)
	if out.User.Locked {
		t.Error("alice locked")
	}
	for range 2 {
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("failure after success: %v", err)
		}
	}
	f.mustSignIn(t, "alice", goodPassword) // two failures: no delay yet

	// Throttled attempts are audited but do not count as failures.
	var reasons []string
	for _, r := range f.reasons(t) {
		if r == "throttled" {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) != 5 {
		t.Errorf("%d throttled events, want 5", len(reasons))
	}
}

func must(_ *session.Outcome, err error) error { return err }

// Failures in a row wait 1 s, 2 s, 4 s, ... up to a minute; the tenth locks
// the account, after which even the right password is refused.
func testLockout(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.newUser(t, "bob")
	if p, _ := f.ses.Policy(f.ctx, f.tenant); p.LockoutThreshold != 10 {
		t.Fatalf("default lockout threshold %d", p.LockoutThreshold)
	}
	delays := []time.Duration{0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60} // after n failures, in seconds
	for n := 1; n <= 10; n++ {
		if u := f.user(t, alice.ID); u.Locked {
			t.Fatalf("locked after %d failures", n-1)
		}
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", n, err)
		}
		wait := delays[n] * time.Second
		if wait == 0 {
			continue
		}
		te, ok := throttled(must(f.signIn("alice", goodPassword)))
		if !ok || te.Wait != wait {
			t.Fatalf("after %d failures: throttled %v, wait %v; want %v", n, ok, te, wait)
		}
		f.clk.Advance(wait)
	}
	u := f.user(t, alice.ID)
	if !u.Locked || u.Status != user.Active {
		t.Fatalf("after 10 failures: locked %v status %s", u.Locked, u.Status)
	}
	ev := f.events(t, "user.lock")
	if len(ev) != 1 || ev[0].TargetID != string(alice.ID) || ev[0].Actor.Type != "system" || ev[0].Actor.ID != "sign-in lockout" {
		t.Fatalf("lock events: %+v", ev)
	}
	// Locked: the right password fails like a wrong one.
	f.clk.Advance(time.Hour)
	if out, err := f.signIn("alice", goodPassword); out != nil || !errors.Is(err, user.ErrBadCredentials) {
		t.Fatalf("locked user signs in: %+v, %v", out, err)
	}
	if r := f.reasons(t); r[len(r)-1] != "locked" {
		t.Errorf("last failure reason %q, want locked", r[len(r)-1])
	}
	// Bob is unaffected, and an unknown login never locks anything.
	f.mustSignIn(t, "bob", goodPassword)
	if ev := f.events(t, "user.lock"); len(ev) != 1 {
		t.Errorf("%d lock events", len(ev))
	}
	// Delays stop growing at a minute.
	for range 3 {
		f.clk.Advance(time.Hour)
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if te, ok := throttled(must(f.signIn("alice", goodPassword))); !ok || te.Wait != time.Minute {
		t.Errorf("delay after many failures: %v", te)
	}
}

// An administrator who unlocks an account gives its owner a fresh start: a
// single typo afterwards does not lock it again.
func testAdminUnlockStartsAfresh(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.setPolicy(t, func(p *session.Policy) { p.LockoutThreshold = 3 })
	for range 3 {
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if !f.user(t, alice.ID).Locked {
		t.Fatal("not locked after 3 failures with threshold 3")
	}
	f.transition(t, alice.ID, user.OpUnlock)
	if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Fatalf("typo after unlock: %v", err)
	}
	if f.user(t, alice.ID).Locked {
		t.Error("one typo after an admin unlock locked the account again")
	}
	f.mustSignIn(t, "alice", goodPassword)
}

// Lockout off: failures are only delayed, never locked.
func testLockoutOff(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.setPolicy(t, func(p *session.Policy) { p.LockoutThreshold = 0 })
	for range 15 {
		if _, err := f.signIn("alice", wrongPassword); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatal(err)
		}
		f.clk.Advance(time.Minute)
	}
	if f.user(t, alice.ID).Locked {
		t.Error("locked with lockout off")
	}
	f.mustSignIn(t, "alice", goodPassword)
}
