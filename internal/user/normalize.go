package user

import (
	"errors"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Key is the form in which usernames and emails are compared: NFKC, then
// Unicode case folding, then NFKC again (UTS #39 / RFC 8265 style). So
// "Alice", "ALICE", "ａｌｉｃｅ" (full-width) and a decomposed "é" all collide.
func Key(s string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(strings.TrimSpace(s))))
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError })
}

func validateUsername(u string) error {
	switch {
	case u == "":
		return errkind.Field("username", "is required when no email is given")
	case !utf8.ValidString(u) || hasControl(u):
		return errkind.Field("username", "must be valid text without control characters")
	case strings.TrimSpace(u) != u:
		return errkind.Field("username", "must not start or end with white space")
	case utf8.RuneCountInString(u) > 100:
		return errkind.Field("username", "must be at most 100 characters")
	case Key(u) == "":
		return errkind.Field("username", "must contain visible characters")
	}
	return nil
}

// normalizeEmail checks an address is a bare addr-spec ("a@b.example", no
// display name or angle brackets) and lower-cases its domain.
func normalizeEmail(field, e string) (string, error) {
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e || len(e) > 254 || hasControl(e) {
		return "", errkind.Field(field, "must be an email address such as ada@example.com")
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], strings.ToLower(e[at+1:])
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", errkind.Field(field, "must have a domain name such as example.com")
	}
	return local + "@" + domain, nil
}

func validateEmails(es []Email) ([]Email, error) {
	var errs []error
	out := make([]Email, 0, len(es))
	primaries := 0
	seen := map[string]bool{}
	for i, e := range es {
		field := "emails." + strconv.Itoa(i) + ".value"
		v, err := normalizeEmail(field, e.Value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[Key(v)] {
			errs = append(errs, errkind.Field(field, "is listed twice"))
			continue
		}
		seen[Key(v)] = true
		if e.Primary {
			primaries++
		}
		out = append(out, Email{Value: v, Primary: e.Primary, Verified: e.Verified})
	}
	switch {
	case len(es) > 10:
		errs = append(errs, errkind.Field("emails", "at most 10 addresses"))
	case len(errs) == 0 && len(out) == 1 && primaries == 0:
		out[0].Primary = true // a lone address is the primary one
	case len(errs) == 0 && len(out) > 0 && primaries != 1:
		errs = append(errs, errkind.Field("emails", "exactly one address must be primary"))
	}
	return out, errors.Join(errs...)
}

var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// validateProfile checks the free-text and formatted profile fields.
func validateProfile(u *User) error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"given_name", u.GivenName}, {"family_name", u.FamilyName}, {"display_name", u.DisplayName},
	} {
		if utf8.RuneCountInString(f.v) > 200 || hasControl(f.v) {
			errs = append(errs, errkind.Field(f.name, "must be at most 200 characters without control characters"))
		}
	}
	if u.Phone != "" && !phonePattern.MatchString(u.Phone) {
		errs = append(errs, errkind.Field("phone", "must be in E.164 form, such as +14155550100"))
	}
	if u.Locale != "" {
		if tag, err := language.Parse(u.Locale); err != nil {
			errs = append(errs, errkind.Field("locale", "must be a BCP 47 language tag, such as en-US"))
		} else {
			u.Locale = tag.String()
		}
	}
	if u.TimeZone != "" {
		if _, err := time.LoadLocation(u.TimeZone); err != nil || u.TimeZone == "Local" {
			errs = append(errs, errkind.Field("time_zone", "must be an IANA time zone, such as Europe/Berlin"))
		}
	}
	if !validSource(u.Source) {
		errs = append(errs, errkind.Field("source", "must be one of local, federation, directory, scim"))
	}
	errs = append(errs, validateExternalIDs(u.ExternalIDs))
	return errors.Join(errs...)
}

func validSource(s string) bool {
	for _, x := range sources {
		if s == x {
			return true
		}
	}
	return false
}

var externalSourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

func validateExternalIDs(m map[string]string) error {
	var errs []error
	if len(m) > 20 {
		return errkind.Field("external_ids", "at most 20 entries")
	}
	for k, v := range m {
		if !externalSourcePattern.MatchString(k) {
			errs = append(errs, errkind.Field("external_ids."+k, "key must be 1 to 32 lower-case letters, digits, '.', '_' or '-'"))
		} else if v == "" || len(v) > 255 || hasControl(v) {
			errs = append(errs, errkind.Field("external_ids."+k, "must be 1 to 255 printable characters"))
		}
	}
	return errors.Join(errs...)
}
