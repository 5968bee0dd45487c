package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/tessera-iam/tessera/internal/session"
)

const (
	continueLink   = `#main a.button`
	totpButton     = `form[action$="/login/mfa/totp"] button[type=submit]`
	recoveryButton = `form[action$="/login/mfa/recovery"] button[type=submit]`
	badCode        = "That code is not right, or was already used. Try the next one."
)

// An authenticator app added on the security page: sign-in then asks for
// its code, refuses a code used before, and takes a recovery code instead,
// once.
func TestTOTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser(t, "totp")
	b.withoutJavaScript()

	b.signIn(f.username, f.password, "/t/default/")
	b.open("/t/default/security", "security")
	b.expectPage("/t/default/security", "Security")
	b.submit(`form[action$="/security/totp"] button[type=submit]`, "totp-setup")
	b.expectPage("/t/default/security/totp", "Add an authenticator app")
	app, codes := b.addAuthenticator("/security/totp/confirm", "recovery-codes")
	b.submit(continueLink, "security-with-totp")
	b.expectPage("/t/default/security", "Security")
	b.expectAlert("Authenticator app added.")
	if got := b.text(`section[aria-labelledby="mfa-h"] ul.rows li`); !strings.Contains(got, "Authenticator app · authenticator app") {
		t.Errorf("the security page lists the factor as %q", got)
	}
	b.signOut()

	// The second factor is now asked for; the page offers no passkey.
	b.signIn(f.username, f.password, "/t/default/login/mfa")
	b.expectPage("/t/default/login/mfa", "Two-step verification")
	if n := eval[int](b, `document.querySelectorAll('#webauthn-login').length`); n != 0 {
		t.Error("the second-factor page offers a passkey the user does not have")
	}
	code := app.code()
	b.fill("#code", code)
	b.submit(totpButton, "portal")
	b.expectPortal(f)
	b.signOut()

	// The same code again is a replay.
	b.signIn(f.username, f.password, "/t/default/login/mfa")
	b.fill("#code", code)
	if res := b.submit(totpButton, "code-replayed"); res.Status != http.StatusUnauthorized {
		t.Fatalf("replayed code: status %d", res.Status)
	}
	b.expectAlert(badCode)

	// A recovery code instead, from the same page.
	b.click("details summary")
	b.fill("#recovery", codes[0])
	b.submit(recoveryButton, "portal-by-recovery-code")
	b.expectPortal(f)
	b.open("/t/default/security", "security-codes-left")
	if want := fmt.Sprintf("%d recovery codes left.", len(codes)-1); !strings.Contains(b.text(`section[aria-labelledby="mfa-h"]`), want) {
		t.Errorf("the security page does not say %q", want)
	}
	b.signOut()

	// A recovery code works once.
	b.signIn(f.username, f.password, "/t/default/login/mfa")
	b.click("details summary")
	b.fill("#recovery", codes[0])
	if res := b.submit(recoveryButton, "recovery-code-reused"); res.Status != http.StatusUnauthorized {
		t.Fatalf("reused recovery code: status %d", res.Status)
	}
	b.expectAlert(badCode)
}

// With MFA required, the first sign-in of a user without a factor sets one
// up before any session starts.
func TestMFARequiredEnrolment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setPolicy(t, func(p *session.Policy) { p.MFA = session.MFARequired })
	b := f.browser(t, "enrol")
	b.withoutJavaScript()

	b.signIn(f.username, f.password, "/t/default/login/mfa")
	b.expectPage("/t/default/login/mfa", "Set up a second factor")
	// The password alone opened no session.
	b.open("/t/default/", "portal-refused")
	b.expectSignInPage("/t/default/")
	b.open("/t/default/login/mfa?return=%2Ft%2Fdefault%2F", "enrol")
	b.expectPage("/t/default/login/mfa", "Set up a second factor")

	b.submit(`form[action$="/login/enrol/totp"] button[type=submit]`, "totp-setup")
	b.expectPage("/t/default/login/enrol/totp", "Set up your authenticator app")
	b.addAuthenticator("/login/enrol/totp/confirm", "recovery-codes")
	b.submit(continueLink, "portal")
	b.expectPortal(f)

	b.open("/t/default/security", "security")
	if got := b.text(`section[aria-labelledby="mfa-h"] ul.rows li`); !strings.Contains(got, "authenticator app") {
		t.Errorf("the security page lists the factor as %q", got)
	}
}

// With MFA required, a passkey can be the factor set up at the first
// sign-in; the recovery codes show before the portal.
func TestMFARequiredPasskeyEnrolment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setPolicy(t, func(p *session.Policy) { p.MFA = session.MFARequired })
	b := f.browser(t, "enrol-passkey")
	b.virtualAuthenticator()

	b.signIn(f.username, f.password, "/t/default/login/mfa")
	b.expectPage("/t/default/login/mfa", "Set up a second factor")
	b.click("#webauthn-register")
	if got := b.waitFor(`document.getElementById('recovery-codes') ? 'codes' : document.getElementById('webauthn-status').textContent`); got != "codes" {
		t.Fatalf("creating the passkey: %s", got)
	}
	b.shot("recovery-codes")
	b.recoveryCodes()
	b.submit(continueLink, "portal")
	b.expectPortal(f)
}

// A passkey made with Chromium's virtual authenticator on the security
// page, then used as the second factor.
func TestPasskey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser(t, "passkey")
	auth := b.virtualAuthenticator()

	b.signIn(f.username, f.password, "/t/default/")
	b.open("/t/default/security", "security")
	b.expectPage("/t/default/security", "Security")
	b.click("#webauthn-register")
	if got := b.waitFor(`document.getElementById('recovery-codes') ? 'codes' : document.getElementById('webauthn-status').textContent`); got != "codes" {
		t.Fatalf("adding the passkey: %s", got)
	}
	b.shot("recovery-codes")
	if h := b.heading(); h != "Save your recovery codes" {
		t.Fatalf("after the passkey: %q", h)
	}
	b.recoveryCodes()
	creds, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil {
		t.Fatal(err)
	}
	if len(creds.Credentials) != 1 || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %d credentials (%+v)", len(creds.Credentials), creds.Credentials)
	}
	b.submit(continueLink, "security-with-passkey")
	b.expectPage("/t/default/security", "Security")
	if got := b.text(`section[aria-labelledby="mfa-h"] ul.rows li`); !strings.Contains(got, "Passkey · passkey") {
		t.Errorf("the security page lists the factor as %q", got)
	}
	b.signOut()

	b.signIn(f.username, f.password, "/t/default/login/mfa")
	b.expectPage("/t/default/login/mfa", "Two-step verification")
	if n := eval[int](b, `document.querySelectorAll('#code').length`); n != 0 {
		t.Error("the second-factor page asks for an app code the user has no app for")
	}
	b.click("#webauthn-login")
	if got := b.waitFor(`location.pathname === '/t/default/' && document.readyState === 'complete' ? 'portal' : document.getElementById('webauthn-status').textContent`); got != "portal" {
		t.Fatalf("signing in with the passkey: %s", got)
	}
	b.shot("portal")
	b.expectPortal(f)
}

// virtualAuthenticator gives the browser's tab a platform authenticator
// that verifies the user and answers at once.
func (b *browser) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("enable WebAuthn: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		b.t.Fatalf("add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}
