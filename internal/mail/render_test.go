package mail

import (
	"html"
	"strings"
	"testing"
	"time"
)

func TestTemplates(t *testing.T) {
	acme := Tenant{Slug: "acme", Name: "Acme & Co"}
	link := "https://id.example.com/t/acme/reset?token=abc&next=%2F"
	tests := []struct {
		m       Message
		kind    string
		subject string
		action  string
	}{
		{PasswordReset(acme, "bob@example.com", link, time.Hour), KindPasswordReset, "Reset your Acme & Co password", "Choose a new password"},
		{EmailVerification(acme, "bob@example.com", link, 24*time.Hour), KindEmailVerification, "Confirm your email address for Acme & Co", "Confirm email address"},
		{AccountUnlock(acme, "bob@example.com", link, 30*time.Minute), KindAccountUnlock, "Unlock your Acme & Co account", "Unlock account"},
		{PasswordChanged(acme, "bob@example.com"), KindPasswordChanged, "Your Acme & Co password was changed", ""},
	}
	for _, tt := range tests {
		m := tt.m
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", tt.kind, err)
		}
		if m.Kind != tt.kind || m.Tenant != "acme" || m.To != "bob@example.com" || m.Subject != tt.subject {
			t.Errorf("%s: %+v", tt.kind, m)
		}
		if !strings.Contains(m.Text, "Acme & Co") || !strings.Contains(m.HTML, "Acme &amp; Co") {
			t.Errorf("%s: tenant name missing or unescaped:\n%s\n%s", tt.kind, m.Text, m.HTML)
		}
		if !strings.HasPrefix(m.HTML, "<!doctype html>") || !strings.Contains(m.HTML, `<html lang="en">`) ||
			!strings.Contains(m.HTML, "<title>"+html.EscapeString(tt.subject)+"</title>") {
			t.Errorf("%s: html skeleton:\n%s", tt.kind, m.HTML)
		}
		if tt.kind == KindPasswordChanged {
			if strings.Contains(m.Text, "http") || strings.Contains(m.HTML, "href") {
				t.Errorf("password changed notice carries a link:\n%s", m.Text)
			}
			if !strings.Contains(m.Text, "If you did not") {
				t.Errorf("no advice for the case it was not the user:\n%s", m.Text)
			}
			continue
		}
		for _, want := range []string{"\n" + link + "\n", "If you did not ask for this, ignore this mail.", "works only once"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s: text lacks %q:\n%s", tt.kind, want, m.Text)
			}
		}
		for _, want := range []string{`href="https://id.example.com/t/acme/reset?token=abc&amp;next=%2F"`, tt.action,
			"If you did not ask for this, ignore this mail."} {
			if !strings.Contains(m.HTML, want) {
				t.Errorf("%s: html lacks %q:\n%s", tt.kind, want, m.HTML)
			}
		}
	}
	if m := PasswordReset(acme, "b@example.com", link, time.Hour); !strings.Contains(m.Text, "valid for 1 hour") {
		t.Errorf("validity:\n%s", m.Text)
	}
}

func TestTemplatesResistHostileInput(t *testing.T) {
	m := PasswordReset(Tenant{Slug: "evil", Name: "Evil\r\nBcc: all@example.com <script>x</script>"},
		"bob@example.com", "javascript:alert(1)", time.Hour)
	if err := m.Validate(); err != nil {
		t.Fatalf("a tenant name broke the message: %v", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject %q", m.Subject)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, `href="javascript`) {
		t.Errorf("html:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "#ZgotmplZ") {
		t.Errorf("a javascript: link was not neutralised:\n%s", m.HTML)
	}
	if m := PasswordChanged(Tenant{}, "bob@example.com"); !strings.Contains(m.Subject, "Tessera") {
		t.Errorf("fallback name: %q", m.Subject)
	}
	if m := PasswordChanged(Tenant{Slug: "acme"}, "bob@example.com"); !strings.Contains(m.Subject, "acme") {
		t.Errorf("slug as name: %q", m.Subject)
	}
}

func TestValidFor(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second:   "10 seconds",
		0:                  "1 second",
		time.Minute:        "1 minute",
		15 * time.Minute:   "15 minutes",
		time.Hour:          "1 hour",
		90 * time.Minute:   "90 minutes",
		2 * time.Hour:      "2 hours",
		150 * time.Minute:  "2 hours",
		24 * time.Hour:     "24 hours",
		72 * time.Hour:     "3 days",
		7 * 24 * time.Hour: "7 days",
	} {
		if got := ValidFor(d); got != want {
			t.Errorf("ValidFor(%v) = %q, want %q", d, got, want)
		}
	}
}
