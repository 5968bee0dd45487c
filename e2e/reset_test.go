package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// "Forgot your password?" through a real SMTP server: the mailed link sets
// a new password once; the old password stops working, the new one works.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	smtpd := startSMTP(t)
	f := newFixture(t, smtpd.config)
	b := f.browser(t, "reset")
	b.withoutJavaScript()
	const newPassword = "Difference-Engine-1822"

	b.open("/t/default/login", "identifier")
	b.submit(forgotLink, "forgot")
	b.expectPage("/t/default/login/forgot", "Forgot your password?")
	b.fill("#login", f.email)
	b.submit(forgotButton, "check-email")
	b.expectPage("/t/default/login/forgot", "Check your email")
	b.expectAlert(forgotSent)

	m := smtpd.next(t, 15*time.Second)
	if !slices.Equal(m.to, []string{f.email}) {
		t.Errorf("mail sent to %q, want %s", m.to, f.email)
	}
	subject, text := textBody(t, m.data)
	if !strings.HasPrefix(subject, "Reset your ") || !strings.HasSuffix(subject, " password") {
		t.Errorf("subject %q", subject)
	}
	link := findLink(t, text, f.env.URL, "/t/default/login/reset")

	b.open(link, "reset")
	b.expectPage("/t/default/login/reset", "Choose a new password")
	b.fill("#password", newPassword)
	b.submit(`form[action$="/login/reset"] button[type=submit]`, "password-changed")
	b.expectPage("/t/default/login/reset", "Password changed")
	if m := smtpd.next(t, 15*time.Second); !slices.Equal(m.to, []string{f.email}) {
		t.Errorf("password-changed mail sent to %q", m.to)
	} else if s, _ := textBody(t, m.data); s == subject {
		t.Errorf("the password-changed mail has the reset mail's subject %q", s)
	}
	b.open(link, "reset-link-again")
	b.expectPage("/t/default/login/reset", "Link expired")

	b.open("/t/default/login", "identifier-old-password")
	b.fill("#login", f.username)
	b.submit(identifierButton, "old-password")
	b.fill("#password", f.password)
	if res := b.submit(passwordButton, "old-password-refused"); res.Status != http.StatusUnauthorized {
		t.Fatalf("old password: status %d", res.Status)
	}
	b.expectAlert(badCredentials)

	b.signIn(f.username, newPassword, "/t/default/")
	b.expectPortal(f)
}
