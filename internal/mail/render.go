package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

// Kinds of message, for logs and metrics.
const (
	KindPasswordReset     = "password_reset"
	KindEmailVerification = "email_verification"
	KindAccountUnlock     = "account_unlock"
	KindPasswordChanged   = "password_changed"
)

// Tenant is the tenant a message is sent for: Slug goes into
// Message.Tenant (logs, the development mailbox), Name into the wording.
type Tenant struct {
	Slug string
	Name string
}

// PasswordReset asks the user to choose a new password through link, which
// is valid for valid.
func PasswordReset(t Tenant, to, link string, valid time.Duration) Message {
	return render(KindPasswordReset, t, to, templateData{Link: link, ValidFor: ValidFor(valid), Action: "Choose a new password"})
}

// EmailVerification asks the user to confirm their address through link.
func EmailVerification(t Tenant, to, link string, valid time.Duration) Message {
	return render(KindEmailVerification, t, to, templateData{Link: link, ValidFor: ValidFor(valid), Action: "Confirm email address"})
}

// AccountUnlock lets a locked-out user unlock their account through link.
func AccountUnlock(t Tenant, to, link string, valid time.Duration) Message {
	return render(KindAccountUnlock, t, to, templateData{Link: link, ValidFor: ValidFor(valid), Action: "Unlock account"})
}

// PasswordChanged tells the user their password was changed. It has no link:
// a mail that says "click here if it was not you" is what phishing looks like.
func PasswordChanged(t Tenant, to string) Message {
	return render(KindPasswordChanged, t, to, templateData{})
}

// templateData is what the templates see.
type templateData struct {
	TenantName string
	Subject    string
	Link       string
	ValidFor   string
	Action     string // the button's label
}

//go:embed templates/layout.html templates/*.txt templates/password_reset.html templates/email_verification.html templates/account_unlock.html templates/password_changed.html
var messageFS embed.FS

type kindTemplates struct {
	text *texttemplate.Template // defines "subject" and "text"
	html *htmltemplate.Template // "layout" around this kind's "content"
}

// messageTemplates is parsed once, when the package loads, and never changed.
var messageTemplates = func() map[string]kindTemplates {
	out := map[string]kindTemplates{}
	for _, kind := range []string{KindPasswordReset, KindEmailVerification, KindAccountUnlock, KindPasswordChanged} {
		out[kind] = kindTemplates{
			text: texttemplate.Must(texttemplate.New(kind).ParseFS(messageFS, "templates/"+kind+".txt")),
			html: htmltemplate.Must(htmltemplate.New(kind).ParseFS(messageFS, "templates/layout.html", "templates/"+kind+".html")),
		}
	}
	return out
}()

func render(kind string, t Tenant, to string, data templateData) Message {
	data.TenantName = oneLine(t.Name)
	if data.TenantName == "" {
		data.TenantName = oneLine(t.Slug)
	}
	if data.TenantName == "" {
		data.TenantName = "Tessera"
	}
	tpl := messageTemplates[kind]
	subject := oneLine(execute(tpl.text, "subject", data))
	data.Subject = subject
	var html bytes.Buffer
	if err := tpl.html.ExecuteTemplate(&html, "layout", data); err != nil {
		// The templates are fixed and every kind is rendered by the tests.
		panic(fmt.Sprintf("mail: render %s html: %v", kind, err))
	}
	return Message{Tenant: t.Slug, To: to, Subject: subject, Text: execute(tpl.text, "text", data), HTML: html.String(), Kind: kind}
}

func execute(t *texttemplate.Template, name string, data templateData) string {
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		panic(fmt.Sprintf("mail: render %s %s: %v", t.Name(), name, err))
	}
	return b.String()
}

// oneLine folds control characters (a newline in a tenant name) into spaces,
// so a name can never add a header line to the subject.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return isControl(r) || r == ' ' }), " ")
}

// ValidFor says how long a link lasts in words: "30 minutes", "1 hour",
// "2 days". It rounds down: the mail may promise less time than the link
// has, never more.
func ValidFor(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Hour && d%time.Hour == 0:
		return "1 hour"
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	default:
		return plural(max(int(d/time.Second), 1), "second")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
