package session_test

import (
	"database/sql"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/user"
)

// TestSecondFactors runs the scenarios of this file (see runScenarios).
// Second factors: TOTP, recovery codes, WebAuthn records, pending steps.
func TestSecondFactors(t *testing.T) {
	t.Parallel()
	runScenarios(t,
		scenario{"TOTPEnrolment", testTOTPEnrolment},
		scenario{"TOTPSignIn", testTOTPSignIn},
		scenario{"PendingStepIsBound", testPendingStepIsBound},
		scenario{"SecondFactorFailuresThrottleAndLock", testSecondFactorFailuresThrottleAndLock},
		scenario{"SecondFactorRaces", testSecondFactorRaces},
		scenario{"FactorManagement", testFactorManagement},
	)
}

var recoveryCodePattern = regexp.MustCompile(`^[a-km-np-z2-9]{5}-[a-km-np-z2-9]{5}$`)

func testTOTPEnrolment(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	bob := f.newUser(t, "bob")

	enr, err := f.ses.BeginTOTP(f.ctx, f.tenant, alice, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enr.URL, "otpauth://totp/") || !strings.Contains(enr.URL, "secret="+enr.Secret) || len(enr.Secret) != 32 {
		t.Errorf("enrolment %+v", enr)
	}
	// The secret waits sealed in the token's data, never in clear.
	if d := dump(t, f.raw); strings.Contains(d, enr.Secret) || strings.Contains(d, enr.Token) || !strings.Contains(d, "secret") {
		t.Error("the TOTP secret is stored in clear")
	}

	now := f.clk.Now()
	_, err = f.ses.ConfirmTOTP(f.ctx, f.tenant, alice.ID, enr.Token, wrongCode(t, enr.Secret, now), "phone")
	wantErr(t, "wrong first code", err, session.ErrBadCode)
	_, err = f.ses.ConfirmTOTP(f.ctx, f.tenant, bob.ID, enr.Token, code(t, enr.Secret, now), "phone")
	wantErr(t, "another user's enrolment", err, session.ErrTokenInvalid)
	other := f.otherTenant(t, "globex")
	_, err = f.ses.ConfirmTOTP(f.ctx, other, alice.ID, enr.Token, code(t, enr.Secret, now), "phone")
	wantErr(t, "enrolment at another tenant", err, session.ErrTokenInvalid)
	if fs, _ := f.ses.Factors(f.ctx, f.sc, alice.ID); len(fs) != 0 {
		t.Fatalf("refused confirmations left factors: %+v", fs)
	}

	codes, err := f.ses.ConfirmTOTP(f.ctx, f.tenant, alice.ID, enr.Token, code(t, enr.Secret, now), "  phone  ")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	for _, c := range codes {
		if !recoveryCodePattern.MatchString(c) {
			t.Errorf("recovery code %q", c)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(codes)))) != 10 {
		t.Error("recovery codes repeat")
	}
	fs, err := f.ses.Factors(f.ctx, f.sc, alice.ID)
	if err != nil || len(fs) != 1 || fs[0].Kind != session.KindTOTP || fs[0].Name != "phone" || fs[0].User != alice.ID {
		t.Fatalf("factors %+v, %v", fs, err)
	}
	if n, _ := f.ses.RecoveryCodesLeft(f.ctx, f.tenant, alice.ID); n != 10 {
		t.Errorf("%d recovery codes left", n)
	}
	d := dump(t, f.raw)
	for _, s := range append([]string{enr.Secret, strings.ReplaceAll(codes[0], "-", "")}, codes...) {
		if strings.Contains(d, s) {
			t.Errorf("%q is stored in clear", s)
		}
	}
	if ev := f.events(t, "session.mfa_enrolled"); len(ev) != 1 || ev[0].details["kind"] != session.KindTOTP {
		t.Errorf("enrolment events %+v", ev)
	}
	// The enrolment is used up.
	_, err = f.ses.ConfirmTOTP(f.ctx, f.tenant, alice.ID, enr.Token, code(t, enr.Secret, now), "phone")
	wantErr(t, "enrolment used twice", err, session.ErrTokenInvalid)

	// A second factor keeps the recovery codes there are.
	f.clk.Advance(time.Minute)
	_, more := f.enrolTOTP(t, alice)
	if more != nil {
		t.Errorf("second factor made new recovery codes: %v", more)
	}
	// An enrolment not confirmed in ten minutes is gone.
	late, err := f.ses.BeginTOTP(f.ctx, f.tenant, bob, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	at := f.clk.Advance(10 * time.Minute)
	_, err = f.ses.ConfirmTOTP(f.ctx, f.tenant, bob.ID, late.Token, code(t, late.Secret, at), "phone")
	wantErr(t, "expired enrolment", err, session.ErrTokenInvalid)
}

// dump is what the sign-in tables hold as text, to look for secrets.
func dump(t *testing.T, raw *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{`SELECT token_hash || ' ' || data FROM sign_in_tokens`,
		`SELECT code_hash FROM recovery_codes`, `SELECT name || ' ' || id FROM mfa_factors`, `SELECT token_hash FROM sessions`} {
		r, err := raw.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	return b.String()
}

func testTOTPSignIn(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	secret, codes := f.enrolTOTP(t, alice)
	enrolledAt := f.clk.Now()

	p := f.mustPending(t, "alice", goodPassword)
	if p.Enrol || p.User.ID != alice.ID {
		t.Errorf("pending %+v", p)
	}
	step, err := f.ses.PendingStep(f.ctx, f.tenant, p.Pending)
	if err != nil || step.User.ID != alice.ID || step.Enrol || len(step.Factors) != 1 {
		t.Fatalf("pending step %+v, %v", step, err)
	}

	// The code that confirmed the enrolment cannot sign in: used once.
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, enrolledAt), client)
	wantErr(t, "the enrolment's code again", err, session.ErrBadCode)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, wrongCode(t, secret, enrolledAt), client)
	wantErr(t, "a wrong code", err, session.ErrBadCode)
	if !errors.Is(err, errkind.Unauthenticated) {
		t.Errorf("ErrBadCode is not Unauthenticated: %v", err)
	}
	for _, c := range []string{"", "12345", "1234567", "abcdef"} {
		_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, c, client)
		wantErr(t, "malformed code "+c, err, session.ErrBadCode)
		f.clk.Advance(time.Minute) // past the throttle those failures bring (a later TOTP step too)
	}

	now := f.clk.Now()
	out, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, " "+code(t, secret, now)+" ", client)
	if err != nil {
		t.Fatal(err)
	}
	if out.Session == nil || !slices.Equal(out.Session.AMR, []string{"pwd", "otp"}) || !out.Session.MFA() ||
		!out.Session.MFAAt.Equal(now) || out.User.ID != alice.ID {
		t.Fatalf("outcome %+v", out.Session)
	}
	s, err := f.ses.Validate(f.ctx, f.tenant, out.Token)
	if err != nil || !s.MFA() || !slices.Equal(s.AMR, []string{"pwd", "otp"}) || !s.MFAAt.Equal(now) {
		t.Fatalf("validated %+v, %v", s, err)
	}
	// The step is used up.
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, now.Add(30*time.Second)), client)
	wantErr(t, "pending step used twice", err, session.ErrTokenInvalid)
	if _, err := f.ses.PendingStep(f.ctx, f.tenant, p.Pending); !errors.Is(err, session.ErrTokenInvalid) {
		t.Errorf("peek at a used step: %v", err)
	}

	// Replay: the same code on a fresh step fails; the next step's works;
	// then an older one fails again.
	p2 := f.mustPending(t, "alice", goodPassword)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p2.Pending, code(t, secret, now), client)
	wantErr(t, "replayed code", err, session.ErrBadCode)
	if _, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p2.Pending, code(t, secret, now.Add(30*time.Second)), client); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	p3 := f.mustPending(t, "alice", goodPassword)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p3.Pending, code(t, secret, now), client)
	wantErr(t, "an older step's code", err, session.ErrBadCode)
	// Codes two steps away are outside the window.
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p3.Pending, code(t, secret, now.Add(60*time.Second)), client)
	wantErr(t, "a code two steps ahead", err, session.ErrBadCode)

	// Recovery codes: each works once, in any case and without the dash.
	f.clk.Advance(2 * time.Minute)
	out, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p3.Pending, codes[0], client)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Session.AMR, []string{"pwd", "rec"}) || !out.Session.MFA() {
		t.Errorf("recovery AMR %v", out.Session.AMR)
	}
	if n, _ := f.ses.RecoveryCodesLeft(f.ctx, f.tenant, alice.ID); n != 9 {
		t.Errorf("%d codes left after one use", n)
	}
	p4 := f.mustPending(t, "alice", goodPassword)
	_, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p4.Pending, codes[0], client)
	wantErr(t, "recovery code used twice", err, session.ErrBadCode)
	if _, err := f.ses.CompleteRecovery(f.ctx, f.tenant, p4.Pending, strings.ToUpper(strings.ReplaceAll(codes[1], "-", " ")), client); err != nil {
		t.Errorf("recovery code in capitals with a space: %v", err)
	}

	// Another user's recovery code is no use.
	bob := f.newUser(t, "bob")
	_, bobCodes := f.enrolTOTP(t, bob)
	p5 := f.mustPending(t, "alice", goodPassword)
	_, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p5.Pending, bobCodes[0], client)
	wantErr(t, "bob's recovery code for alice", err, session.ErrBadCode)

	// New codes void the old ones.
	fresh, err := f.ses.RegenerateRecoveryCodes(f.ctx, f.tenant, alice.ID)
	if err != nil || len(fresh) != 10 {
		t.Fatalf("regenerate: %d, %v", len(fresh), err)
	}
	_, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p5.Pending, codes[2], client)
	wantErr(t, "a replaced recovery code", err, session.ErrBadCode)
	if _, err := f.ses.CompleteRecovery(f.ctx, f.tenant, p5.Pending, fresh[0], client); err != nil {
		t.Errorf("a new recovery code: %v", err)
	}

	// Failures were audited as such.
	n := 0
	for _, e := range f.events(t, audit.ActionSignIn) {
		if e.Outcome == audit.Failure {
			if e.details["reason"] != "bad_second_factor" {
				t.Errorf("failure reason %v", e.details["reason"])
			}
			n++
		}
	}
	if n != 12 {
		t.Errorf("%d failed second-factor events, want 12", n)
	}
}

func testPendingStepIsBound(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	secret, _ := f.enrolTOTP(t, alice)
	f.clk.Advance(30 * time.Second)
	p := f.mustPending(t, "alice", goodPassword)

	// Not at another tenant, not as a link of another purpose.
	other := f.otherTenant(t, "globex")
	_, err := f.ses.CompleteTOTP(f.ctx, other, p.Pending, code(t, secret, f.clk.Now()), client)
	wantErr(t, "pending step at another tenant", err, session.ErrTokenInvalid)
	_, err = f.ses.ResetPassword(f.ctx, f.tenant, p.Pending, otherPassword)
	wantErr(t, "pending step as a reset link", err, session.ErrTokenInvalid)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, "made-up", code(t, secret, f.clk.Now()), client)
	wantErr(t, "made-up step", err, session.ErrTokenInvalid)

	// Not once the user may no longer sign in.
	f.transition(t, alice.ID, user.OpSuspend)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, f.clk.Now()), client)
	wantErr(t, "suspended user's step", err, session.ErrTokenInvalid)
	f.transition(t, alice.ID, user.OpUnsuspend)

	// Not after ten minutes.
	f.clk.Advance(10 * time.Minute)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, f.clk.Now()), client)
	wantErr(t, "expired step", err, session.ErrTokenInvalid)
	p = f.mustPending(t, "alice", goodPassword)
	if _, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, f.clk.Now()), client); err != nil {
		t.Errorf("fresh step: %v", err)
	}
}

// Wrong codes are failures like wrong passwords: delayed, then locked.
func testSecondFactorFailuresThrottleAndLock(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	f.setPolicy(t, func(p *session.Policy) { p.LockoutThreshold = 5 })
	secret, codes := f.enrolTOTP(t, alice)
	f.clk.Advance(30 * time.Second)
	p := f.mustPending(t, "alice", goodPassword)
	now := f.clk.Now()
	for range 3 {
		_, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, wrongCode(t, secret, now), client)
		wantErr(t, "wrong code", err, session.ErrBadCode)
	}
	// Too soon: refused unchecked, even the right code; and the password
	// step shares the count.
	out, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, now), client)
	if te, ok := throttled(err); !ok || te.Wait != time.Second || out != nil {
		t.Fatalf("right code too soon: %+v, %v", out, err)
	}
	if _, ok := throttled(must(f.signIn("alice", goodPassword))); !ok {
		t.Error("the password step ignores second-factor failures")
	}
	_, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p.Pending, codes[0], client)
	if _, ok := throttled(err); !ok {
		t.Errorf("recovery code too soon: %v", err)
	}
	if n, _ := f.ses.RecoveryCodesLeft(f.ctx, f.tenant, alice.ID); n != 10 {
		t.Errorf("a throttled attempt used a recovery code: %d left", n)
	}
	f.clk.Advance(time.Second)
	_, err = f.ses.CompleteRecovery(f.ctx, f.tenant, p.Pending, "aaaaa-aaaaa", client)
	wantErr(t, "wrong recovery code", err, session.ErrBadCode)
	f.clk.Advance(2 * time.Second)
	if f.user(t, alice.ID).Locked {
		t.Fatal("locked after 4 failures, threshold 5")
	}
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, wrongCode(t, secret, f.clk.Now()), client)
	wantErr(t, "fifth wrong code", err, session.ErrBadCode)
	if !f.user(t, alice.ID).Locked {
		t.Fatal("not locked after 5 failures")
	}
	// Locked: the step is dead, the right password too.
	f.clk.Advance(time.Hour)
	_, err = f.ses.CompleteTOTP(f.ctx, f.tenant, p.Pending, code(t, secret, f.clk.Now()), client)
	wantErr(t, "locked user's step", err, session.ErrTokenInvalid)
	if _, err := f.signIn("alice", goodPassword); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("locked user signs in: %v", err)
	}
	var methods []string
	for _, e := range f.events(t, audit.ActionSignIn) {
		if e.details["reason"] == "bad_second_factor" {
			methods = append(methods, e.details["method"].(string))
		}
	}
	if want := []string{"otp", "otp", "otp", "rec", "otp"}; !slices.Equal(methods, want) {
		t.Errorf("second-factor failure events %v, want %v", methods, want)
	}
}

// Two uses of one code, or of one pending step, at the same time: exactly
// one wins.
func testSecondFactorRaces(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	secret, codes := f.enrolTOTP(t, alice)
	for range 3 {
		f.clk.Advance(30 * time.Second)
		c := code(t, secret, f.clk.Now())
		p1 := f.mustPending(t, "alice", goodPassword)
		p2 := f.mustPending(t, "alice", goodPassword)
		errs := race(func() error {
			_, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p1.Pending, c, client)
			return err
		}, func() error {
			_, err := f.ses.CompleteTOTP(f.ctx, f.tenant, p2.Pending, c, client)
			return err
		})
		oneWins(t, "one TOTP code on two steps", errs, session.ErrBadCode)
	}
	for round := range 3 {
		f.clk.Advance(time.Minute)
		p := f.mustPending(t, "alice", goodPassword)
		a, b := codes[2*round], codes[2*round+1]
		errs := race(func() error {
			_, err := f.ses.CompleteRecovery(f.ctx, f.tenant, p.Pending, a, client)
			return err
		}, func() error {
			_, err := f.ses.CompleteRecovery(f.ctx, f.tenant, p.Pending, b, client)
			return err
		})
		oneWins(t, "one step, two recovery codes", errs, session.ErrTokenInvalid)
	}
	// The loser's recovery code was not used up.
	if n, _ := f.ses.RecoveryCodesLeft(f.ctx, f.tenant, alice.ID); n != 7 {
		t.Errorf("%d recovery codes left, want 7", n)
	}
}

// race runs the functions at once and returns their errors.
func race(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var start, done sync.WaitGroup
	start.Add(1)
	for i, fn := range fns {
		done.Go(func() {
			start.Wait()
			errs[i] = fn()
		})
	}
	start.Done()
	done.Wait()
	return errs
}

func oneWins(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Errorf("%s: unexpected error %v", what, err)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d succeeded, want exactly 1 (errors %v)", what, wins, errs)
	}
}

func testFactorManagement(t *testing.T, f *fixture) {
	alice := f.newUser(t, "alice")
	bob := f.newUser(t, "bob")
	f.enrolTOTP(t, alice)
	fa, codes, err := f.ses.AddWebAuthn(f.ctx, f.tenant, alice.ID, "", "Y3JlZC0x", []byte(`{"counter":1}`))
	if err != nil || codes != nil || fa.Name != "Passkey" {
		t.Fatalf("add webauthn: %+v, %v, %v", fa, codes, err)
	}
	got, err := f.ses.FactorByCredential(f.ctx, f.tenant, "Y3JlZC0x")
	if err != nil || got.ID != fa.ID || string(got.Credential) != `{"counter":1}` || got.Kind != session.KindWebAuthn {
		t.Fatalf("factor by credential: %+v, %v", got, err)
	}
	if _, err := f.ses.FactorByCredential(f.ctx, f.otherTenant(t, "globex"), "Y3JlZC0x"); !errors.Is(err, session.ErrFactorNotFound) {
		t.Errorf("credential found at another tenant: %v", err)
	}
	// The same credential id cannot be registered twice in a tenant.
	if _, _, err := f.ses.AddWebAuthn(f.ctx, f.tenant, bob.ID, "", "Y3JlZC0x", []byte(`{}`)); err == nil {
		t.Error("duplicate credential id accepted")
	}
	if fs, _ := f.ses.Factors(f.ctx, f.sc, bob.ID); len(fs) != 0 {
		t.Errorf("refused registration left factors: %+v", fs)
	}
	// Bob's first factor brings his recovery codes.
	if _, codes, err := f.ses.AddWebAuthn(f.ctx, f.tenant, bob.ID, "key", "Y3JlZC0y", []byte(`{}`)); err != nil || len(codes) != 10 {
		t.Errorf("bob's first factor: %d codes, %v", len(codes), err)
	}

	// A WebAuthn step for a credential of the user's (checked by the
	// login pages) opens an "hwk" session and stores the new record.
	p := f.mustPending(t, "alice", goodPassword)
	out, err := f.ses.CompleteWebAuthn(f.ctx, f.tenant, p.Pending, fa.ID, []byte(`{"counter":2}`), client)
	if err != nil || !slices.Equal(out.Session.AMR, []string{"pwd", "hwk"}) {
		t.Fatalf("webauthn step: %+v, %v", out, err)
	}
	if got, _ := f.ses.FactorByCredential(f.ctx, f.tenant, "Y3JlZC0x"); string(got.Credential) != `{"counter":2}` || !got.LastUsed.Equal(f.clk.Now()) {
		t.Errorf("credential after use: %s, last used %v", got.Credential, got.LastUsed)
	}
	// ... but not with another user's credential.
	bobFactors, _ := f.ses.Factors(f.ctx, f.sc, bob.ID)
	p = f.mustPending(t, "alice", goodPassword)
	_, err = f.ses.CompleteWebAuthn(f.ctx, f.tenant, p.Pending, bobFactors[0].ID, []byte(`{}`), client)
	wantErr(t, "bob's credential for alice", err, session.ErrBadCode)

	// Removing: one, an unknown one, another user's.
	wantErr(t, "remove bob's factor as alice's", f.ses.RemoveFactor(f.ctx, f.sc, alice.ID, bobFactors[0].ID), session.ErrFactorNotFound)
	if err := f.ses.RemoveFactor(f.ctx, f.sc, alice.ID, fa.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "remove it again", f.ses.RemoveFactor(f.ctx, f.sc, alice.ID, fa.ID), session.ErrFactorNotFound)
	if fs, _ := f.ses.Factors(f.ctx, f.sc, alice.ID); len(fs) != 1 || fs[0].Kind != session.KindTOTP {
		t.Errorf("factors after removal: %+v", fs)
	}
	// Reset: no factors, no codes, and password-only sign-in again.
	n, err := f.ses.ResetFactors(f.ctx, f.sc, alice.ID)
	if err != nil || n != 1 {
		t.Fatalf("reset factors: %d, %v", n, err)
	}
	if left, _ := f.ses.RecoveryCodesLeft(f.ctx, f.tenant, alice.ID); left != 0 {
		t.Errorf("%d recovery codes after reset", left)
	}
	f.mustSignIn(t, "alice", goodPassword)
	if ev := f.events(t, "session.factors_reset"); len(ev) != 1 || ev[0].details["factors"] != 1.0 {
		t.Errorf("reset events %+v", ev)
	}
}
