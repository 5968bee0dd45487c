package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Policy is a tenant's password policy.
//
// Lengths count Unicode code points (runes) of the password exactly as
// received: no normalisation is applied, and each byte of invalid UTF-8
// counts as one. "é" is therefore one character when sent precomposed (NFC,
// as browsers do) and two when decomposed.
type Policy struct {
	MinLength        int  `json:"min_length"`         // default 12; 8..MaxLength
	MaxLength        int  `json:"max_length"`         // default 128; 64..1024 (bounds argon2 input)
	RequireLower     bool `json:"require_lowercase"`  // a rune with unicode.IsLower
	RequireUpper     bool `json:"require_uppercase"`  // a rune with unicode.IsUpper
	RequireDigit     bool `json:"require_digit"`      // a rune with unicode.IsDigit
	RequireSymbol    bool `json:"require_symbol"`     // a rune that is not a letter, number or control (space counts)
	HistoryCount     int  `json:"history_count"`      // remember N previous passwords, 0..24, default 0
	MaxAgeDays       int  `json:"max_age_days"`       // 0 = never expires; at most 3650
	CheckBreached    bool `json:"check_breached"`     // refuse passwords found in the operator's breached list
	DisallowUserInfo bool `json:"disallow_user_info"` // refuse passwords containing the username or email local part (case-insensitive, parts of >= 4 chars)
}

// Policy bounds.
const (
	policyMinLength  = 8    // SP 800-63B: at least 8
	policyMinMax     = 64   // SP 800-63B: allow at least 64
	policyMaxMax     = 1024 // argon2 input DoS bound
	policyMaxHistory = 24
	policyMaxAgeDays = 3650
	userInfoMinPart  = 4
)

// DefaultPolicy leans on NIST SP 800-63B-4: at least 12 characters, at most
// 128, no composition rules, no expiry, breached and user-info checks on.
func DefaultPolicy() Policy {
	return Policy{MinLength: 12, MaxLength: 128, CheckBreached: true, DisallowUserInfo: true}
}

// Validate reports whether the policy itself is sane, as errors.Join of
// errkind field errors named by the JSON fields.
func (p Policy) Validate() error {
	var errs []error
	if p.MaxLength < policyMinMax || p.MaxLength > policyMaxMax {
		errs = append(errs, errkind.Field("max_length", fmt.Sprintf("must be between %d and %d", policyMinMax, policyMaxMax)))
	}
	if p.MinLength < policyMinLength || p.MinLength > p.MaxLength || p.MinLength > policyMaxMax {
		errs = append(errs, errkind.Field("min_length", fmt.Sprintf("must be between %d and max_length", policyMinLength)))
	}
	if p.HistoryCount < 0 || p.HistoryCount > policyMaxHistory {
		errs = append(errs, errkind.Field("history_count", fmt.Sprintf("must be between 0 and %d", policyMaxHistory)))
	}
	if p.MaxAgeDays < 0 || p.MaxAgeDays > policyMaxAgeDays {
		errs = append(errs, errkind.Field("max_age_days", fmt.Sprintf("must be between 0 (never expires) and %d", policyMaxAgeDays)))
	}
	return errors.Join(errs...)
}

// Violation is one rule a password breaks.
type Violation struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Violation codes.
const (
	CodeTooShort         = "too_short"
	CodeTooLong          = "too_long"
	CodeMissingLowercase = "missing_lowercase"
	CodeMissingUppercase = "missing_uppercase"
	CodeMissingDigit     = "missing_digit"
	CodeMissingSymbol    = "missing_symbol"
	CodeBreached         = "breached"
	CodeContainsUserInfo = "contains_user_info"
	CodeReused           = "reused" // from Hasher.Reused; Check never returns it
)

// defaultMessage is used by ViolationsError for a Violation without a Message
// (so callers can report Violation{Code: CodeReused}).
func defaultMessage(code string) string {
	switch code {
	case CodeTooShort:
		return "is too short"
	case CodeTooLong:
		return "is too long"
	case CodeMissingLowercase:
		return "must contain a lowercase letter"
	case CodeMissingUppercase:
		return "must contain an uppercase letter"
	case CodeMissingDigit:
		return "must contain a digit"
	case CodeMissingSymbol:
		return "must contain a symbol"
	case CodeBreached:
		return "appears in a list of breached passwords"
	case CodeContainsUserInfo:
		return "must not contain your username or email address"
	case CodeReused:
		return "must not be one of your previous passwords"
	}
	return "is not allowed"
}

// Subject is whose password is checked.
type Subject struct{ Username, Email string }

// Check returns every rule plain breaks (not history: that needs the hashes,
// see Hasher.Reused). An empty slice means acceptable. p should be valid.
// CheckBreached with a nil breached list checks nothing.
func (p Policy) Check(plain string, who Subject, breached *Breached) []Violation {
	vs := []Violation{}
	add := func(code, msg string) { vs = append(vs, Violation{Code: code, Message: msg}) }

	n := utf8.RuneCountInString(plain)
	if n < p.MinLength {
		add(CodeTooShort, fmt.Sprintf("must be at least %d characters", p.MinLength))
	}
	if n > p.MaxLength {
		add(CodeTooLong, fmt.Sprintf("must be at most %d characters", p.MaxLength))
	}
	var lower, upper, digit, symbol bool
	for _, r := range plain {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsControl(r):
			symbol = true
		}
	}
	if p.RequireLower && !lower {
		add(CodeMissingLowercase, defaultMessage(CodeMissingLowercase))
	}
	if p.RequireUpper && !upper {
		add(CodeMissingUppercase, defaultMessage(CodeMissingUppercase))
	}
	if p.RequireDigit && !digit {
		add(CodeMissingDigit, defaultMessage(CodeMissingDigit))
	}
	if p.RequireSymbol && !symbol {
		add(CodeMissingSymbol, defaultMessage(CodeMissingSymbol))
	}
	if p.CheckBreached && breached.Contains(plain) {
		add(CodeBreached, defaultMessage(CodeBreached))
	}
	if p.DisallowUserInfo && containsUserInfo(plain, who) {
		add(CodeContainsUserInfo, defaultMessage(CodeContainsUserInfo))
	}
	return vs
}

// containsUserInfo reports whether plain contains, case-insensitively, the
// username or the email's local part, or one of their parts: runs of letters
// and runs of digits ("j.smith+work1984" gives "smith", "work", "1984").
// Parts shorter than 4 code points are ignored.
func containsUserInfo(plain string, who Subject) bool {
	local := who.Email
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	lp := strings.ToLower(plain)
	for _, s := range [...]string{who.Username, local} {
		for _, part := range userInfoParts(strings.ToLower(s)) {
			if strings.Contains(lp, part) {
				return true
			}
		}
	}
	return false
}

func userInfoParts(s string) []string {
	var parts []string
	add := func(part string) {
		if utf8.RuneCountInString(part) >= userInfoMinPart {
			parts = append(parts, part)
		}
	}
	add(s)
	start, kind := 0, 0 // kind: 0 other, 1 letter, 2 digit
	for i, r := range s {
		k := 0
		switch {
		case unicode.IsLetter(r):
			k = 1
		case unicode.IsDigit(r):
			k = 2
		}
		if k != kind {
			if kind != 0 {
				add(s[start:i])
			}
			start, kind = i, k
		}
	}
	if kind != 0 {
		add(s[start:])
	}
	return parts
}

// ViolationsError turns violations into one errkind.Invalid error carrying
// field "password" errors, one per violation. It returns nil for none.
func ViolationsError(vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	errs := make([]error, 0, len(vs))
	for _, v := range vs {
		msg := v.Message
		if msg == "" {
			msg = defaultMessage(v.Code)
		}
		errs = append(errs, errkind.Field("password", msg))
	}
	return fmt.Errorf("password: policy: %w", errors.Join(errs...))
}
