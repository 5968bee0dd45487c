package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/mail"
	"github.com/tessera-iam/tessera/internal/session"
)

const (
	identifierButton = `form[action$="/login"] button[type=submit]`
	passwordButton   = `form[action$="/login/password"] button[type=submit]`
	forgotLink       = `a[href$="/login/forgot"]`
	forgotButton     = `form[action$="/login/forgot"] button[type=submit]`
	badCredentials   = "The username or password is not right."
	forgotSent       = "If an account matches, a link is on its way to its email address. It works once and expires soon."
)

// A deep link while signed out goes through the sign-in and back; the
// portal shows the assigned bookmark app, whose tile launches it; signing
// out ends the session.
func TestSignInWithPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser(t, "signin")
	b.withoutJavaScript()

	b.open("/t/default/security", "deep-link")
	b.expectSignInPage("/t/default/security")
	b.signInHere(f.username, f.password, "/t/default/security")
	b.expectPage("/t/default/security", "Security")

	b.open("/t/default/", "portal")
	b.expectPortal(f)
	b.launchTile(f)

	b.open("/t/default/", "portal-again")
	b.signOut()
}

// Failed passwords lock the account at the policy's threshold; the
// "forgot" page then mails an unlock link (here to the development
// mailbox), whose page unlocks the account once.
func TestLockoutAndUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setPolicy(t, func(p *session.Policy) { p.LockoutThreshold = 3 })
	b := f.browser(t, "lockout")
	b.withoutJavaScript()

	b.open("/t/default/login", "identifier")
	b.fill("#login", f.username)
	b.submit(identifierButton, "password")
	// Delays start after the second failure in a row, so three quick
	// attempts are all checked, and the third locks.
	for i := 1; i <= 3; i++ {
		b.fill("#password", fmt.Sprintf("not-the-password-%d", i))
		if res := b.submit(passwordButton, fmt.Sprintf("wrong-%d", i)); res.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d", i, res.Status)
		}
		b.expectAlert(badCredentials)
	}
	if !f.user(t).Locked {
		t.Fatal("three failures did not lock the account")
	}
	// Locked (or, this soon, throttled): the right password does not help.
	b.fill("#password", f.password)
	if res := b.submit(passwordButton, "locked"); res.Status != http.StatusUnauthorized && res.Status != http.StatusTooManyRequests {
		t.Fatalf("right password on a locked account: status %d (%s)", res.Status, b.alert())
	}
	if p := b.path(); p != "/t/default/login/password" {
		t.Fatalf("right password on a locked account: now on %s", p)
	}

	b.submit(forgotLink, "forgot")
	b.expectPage("/t/default/login/forgot", "Forgot your password?")
	b.fill("#login", f.username)
	b.submit(forgotButton, "check-email")
	b.expectPage("/t/default/login/forgot", "Check your email")
	b.expectAlert(forgotSent)

	link := f.mailboxLink(t, mail.KindAccountUnlock, "/t/default/login/unlock")
	b.open(link, "unlock")
	b.expectPage("/t/default/login/unlock", "Unlock your account")
	if got := b.text("main p"); got != "Unlock the account "+f.username+"?" {
		t.Errorf("unlock page says %q", got)
	}
	b.submit(`main form button[type=submit]`, "unlocked")
	b.expectPage("/t/default/login/unlock", "Account unlocked")
	if f.user(t).Locked {
		t.Fatal("the unlock page did not unlock the account")
	}
	b.open(link, "unlock-link-again")
	b.expectPage("/t/default/login/unlock", "Link expired")

	b.signIn(f.username, f.password, "/t/default/")
	b.expectPortal(f)
}

// mailboxLink waits for the development mailbox's message of kind to the
// user and returns its link to path.
func (f *fixture) mailboxLink(t *testing.T, kind, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range f.env.Server.Mailbox.Messages("default") {
			if m.Kind == kind && strings.Contains(m.To, f.email) {
				return findLink(t, m.Text, f.env.URL, path)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s mail for %s in the development mailbox", kind, f.email)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two browsers (two devices) signed in as the same user: "Sign out
// everywhere" in one ends the other's session too.
func TestSignOutEverywhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	one := f.browser(t, "everywhere-1")
	two := f.browser(t, "everywhere-2")
	one.withoutJavaScript()
	two.withoutJavaScript()

	one.signIn(f.username, f.password, "/t/default/")
	one.expectPortal(f)
	two.signIn(f.username, f.password, "/t/default/")
	two.expectPortal(f)

	one.open("/t/default/security", "security")
	one.expectPage("/t/default/security", "Security")
	if n := eval[int](one, `document.querySelectorAll('#sessions > li').length`); n != 2 {
		t.Fatalf("the security page lists %d sessions, want 2", n)
	}
	one.submit("#sign-out-everywhere", "signed-out-everywhere")
	one.expectPage("/t/default/security/sessions/revoke-all", "Signed out everywhere")

	two.open("/t/default/security", "security-after")
	two.expectSignInPage("/t/default/security")
	one.open("/t/default/", "portal-after")
	one.expectSignInPage("/t/default/")
}
