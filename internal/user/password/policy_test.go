package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tessera-iam/tessera/internal/errkind"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	want := Policy{MinLength: 12, MaxLength: 128, CheckBreached: true, DisallowUserInfo: true}
	if p != want {
		t.Errorf("DefaultPolicy() = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("DefaultPolicy().Validate() = %v", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	def := DefaultPolicy()
	with := func(f func(*Policy)) Policy { p := def; f(&p); return p }
	tests := []struct {
		name   string
		p      Policy
		fields []string
	}{
		{"default", def, nil},
		{"min 8", with(func(p *Policy) { p.MinLength = 8 }), nil},
		{"min 7", with(func(p *Policy) { p.MinLength = 7 }), []string{"min_length"}},
		{"min = max", with(func(p *Policy) { p.MinLength, p.MaxLength = 64, 64 }), nil},
		{"min > max", with(func(p *Policy) { p.MinLength = 129 }), []string{"min_length"}},
		{"max 63", with(func(p *Policy) { p.MinLength, p.MaxLength = 8, 63 }), []string{"max_length"}},
		{"max 1024", with(func(p *Policy) { p.MaxLength = 1024 }), nil},
		{"max 1025", with(func(p *Policy) { p.MaxLength = 1025 }), []string{"max_length"}},
		{"history 24", with(func(p *Policy) { p.HistoryCount = 24 }), nil},
		{"history 25", with(func(p *Policy) { p.HistoryCount = 25 }), []string{"history_count"}},
		{"history -1", with(func(p *Policy) { p.HistoryCount = -1 }), []string{"history_count"}},
		{"max age 3650", with(func(p *Policy) { p.MaxAgeDays = 3650 }), nil},
		{"max age 3651", with(func(p *Policy) { p.MaxAgeDays = 3651 }), []string{"max_age_days"}},
		{"max age -1", with(func(p *Policy) { p.MaxAgeDays = -1 }), []string{"max_age_days"}},
		{"zero value", Policy{}, []string{"max_length", "min_length"}},
		{"everything wrong", Policy{MinLength: 2000, MaxLength: 2000, HistoryCount: 99, MaxAgeDays: -5},
			[]string{"max_length", "min_length", "history_count", "max_age_days"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			var got []string
			for _, fe := range errkind.Fields(err) {
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("Validate() fields = %v, want %v (err %v)", got, tt.fields, err)
			}
			if (err != nil) != (tt.fields != nil) || (err != nil && !errors.Is(err, errkind.Invalid)) {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func codes(vs []Violation) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Code)
	}
	return out
}

func TestPolicyCheck(t *testing.T) {
	breached, err := LoadBreached(strings.NewReader("123456\npassword1234\ncorrect horse battery staple\n"))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultPolicy()
	all := Policy{MinLength: 12, MaxLength: 64, RequireLower: true, RequireUpper: true, RequireDigit: true, RequireSymbol: true}
	who := Subject{Username: "jsmith", Email: "John.Smith+work1984@example.com"}

	tests := []struct {
		name  string
		p     Policy
		plain string
		who   Subject
		want  []string
	}{
		{"acceptable", def, "violet kettle umbrella", who, nil},
		{"too short", def, "short one", who, []string{CodeTooShort}},
		{"exactly min", def, "twelve chars", who, nil},
		{"too long", def, strings.Repeat("a", 129), who, []string{CodeTooLong}},
		{"exactly max", def, strings.Repeat("a", 128), who, nil},
		{"empty", def, "", who, []string{CodeTooShort}},
		// Lengths count code points: 12 two-byte runes are 12 characters.
		{"multibyte counts runes", def, strings.Repeat("é", 12), who, nil},
		{"multibyte too short", def, strings.Repeat("é", 11), who, []string{CodeTooShort}},
		{"decomposed counts two", def, strings.Repeat("e\u0301", 6), who, nil},
		{"emoji", def, strings.Repeat("🔑", 11), who, []string{CodeTooShort}},

		{"composition ok", all, "Violet-kettle-9", who, nil},
		{"missing lower", all, "VIOLET-KETTLE-9", who, []string{CodeMissingLowercase}},
		{"missing upper", all, "violet-kettle-9", who, []string{CodeMissingUppercase}},
		{"missing digit", all, "Violet-kettle-x", who, []string{CodeMissingDigit}},
		{"missing symbol", all, "VioletKettle99", who, []string{CodeMissingSymbol}},
		{"space is a symbol", all, "Violet kettle 9", who, nil},
		{"unicode cases", all, "ÉCLAIR-àvenir-9", who, nil},
		{"missing everything", all, "           ", who,
			[]string{CodeTooShort, CodeMissingLowercase, CodeMissingUppercase, CodeMissingDigit}},
		{"no composition rules by default", def, "aaaaaaaaaaaa", who, nil},

		{"breached", def, "password1234", who, []string{CodeBreached}},
		{"breached is exact", def, "Password1234", who, nil},
		{"breached and short", def, "123456", who, []string{CodeTooShort, CodeBreached}},
		{"breached check off", with(def, func(p *Policy) { p.CheckBreached = false }), "password1234", who, nil},

		{"username", def, "my-JSmith-password", who, []string{CodeContainsUserInfo}},
		{"email local part", def, "xx john.smith+work1984 xx", who, []string{CodeContainsUserInfo}},
		{"email part", def, "violet SMITH kettle", who, []string{CodeContainsUserInfo}},
		{"email part john", def, "violet john kettle", who, []string{CodeContainsUserInfo}},
		{"email digit run", def, "violet 1984 kettle", who, []string{CodeContainsUserInfo}},
		{"email domain allowed", def, "violet example kettle", who, nil},
		{"short parts ignored", def, "bob al violet kettle",
			Subject{Username: "bob", Email: "al@example.com"}, nil},
		{"user info check off", with(def, func(p *Policy) { p.DisallowUserInfo = false }), "my-jsmith-password", who, nil},
		{"empty subject", def, "violet kettle umbrella", Subject{}, nil},
		{"unicode username", def, "violet ZOË kettle", Subject{Username: "zoë.k"}, nil},
		{"unicode username hit", def, "violet ZOËK kettle", Subject{Username: "zoëk"}, []string{CodeContainsUserInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := tt.p.Check(tt.plain, tt.who, breached)
			if vs == nil {
				t.Fatal("Check returned nil, want an empty slice")
			}
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if got := codes(vs); !slices.Equal(got, want) {
				t.Errorf("Check(%q) = %v, want %v", tt.plain, got, want)
			}
			for _, v := range vs {
				if v.Message == "" {
					t.Errorf("violation %s has no message", v.Code)
				}
			}
		})
	}
}

func with(p Policy, f func(*Policy)) Policy { f(&p); return p }

func TestPolicyCheckNilBreached(t *testing.T) {
	if vs := DefaultPolicy().Check("password1234", Subject{}, nil); len(vs) != 0 {
		t.Errorf("Check with no breached list = %v", vs)
	}
}

func TestViolationsError(t *testing.T) {
	if err := ViolationsError(nil); err != nil {
		t.Errorf("ViolationsError(nil) = %v", err)
	}
	vs := []Violation{
		{Code: CodeTooShort, Message: "must be at least 12 characters"},
		{Code: CodeBreached, Message: "appears in a list of breached passwords"},
		{Code: CodeReused}, // message filled in
	}
	err := ViolationsError(vs)
	if !errors.Is(err, errkind.Invalid) {
		t.Fatalf("ViolationsError = %v, not errkind.Invalid", err)
	}
	fs := errkind.Fields(err)
	if len(fs) != len(vs) {
		t.Fatalf("fields = %v, want %d", fs, len(vs))
	}
	for i, fe := range fs {
		if fe.Field != "password" || fe.Message == "" {
			t.Errorf("field %d = %+v", i, fe)
		}
	}
	if fs[0].Message != vs[0].Message || fs[2].Message != defaultMessage(CodeReused) {
		t.Errorf("messages = %q, %q", fs[0].Message, fs[2].Message)
	}
}

func TestLoadBreached(t *testing.T) {
	long1024 := strings.Repeat("x", 1024)
	long1025 := strings.Repeat("y", 1025)
	huge := strings.Repeat("z", 20000) // longer than the read buffer
	input := "\xef\xbb\xbfbom-first\r\n" +
		"123456\r\n" +
		"\r\n" +
		"\n" +
		"password\n" +
		"123456\n" + // duplicate
		" spaced \n" +
		long1024 + "\n" +
		long1025 + "\n" +
		huge + "\n" +
		"after-huge\n" +
		"no-newline-at-end"
	b, err := LoadBreached(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Len(), 7; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	for _, in := range []string{"bom-first", "123456", "password", " spaced ", long1024, "after-huge", "no-newline-at-end"} {
		if !b.Contains(in) {
			t.Errorf("Contains(%.20q) = false", in)
		}
	}
	for _, out := range []string{"", "\r", "123456\r", "spaced", "Password", "\xef\xbb\xbfbom-first", long1025, huge, "1234567"} {
		if b.Contains(out) {
			t.Errorf("Contains(%.20q) = true", out)
		}
	}
}

func TestBreachedEmptyAndNil(t *testing.T) {
	var nilList *Breached
	if nilList.Contains("123456") || nilList.Len() != 0 {
		t.Error("nil *Breached is not empty")
	}
	b, err := LoadBreached(strings.NewReader(""))
	if err != nil || b.Len() != 0 || b.Contains("") {
		t.Errorf("LoadBreached(\"\") = %v, %v", b, err)
	}
	b, err = LoadBreached(strings.NewReader("\n\r\n\n"))
	if err != nil || b.Len() != 0 {
		t.Errorf("LoadBreached(blank lines) = %v, %v", b, err)
	}
}

func TestLoadBreachedReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := LoadBreached(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("LoadBreached = %v, want it to wrap %v", err, boom)
	}
	_, err = LoadBreached(iotest.TimeoutReader(strings.NewReader(strings.Repeat("line\n", 2000))))
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("LoadBreached(timeout mid-file) = %v", err)
	}
}
