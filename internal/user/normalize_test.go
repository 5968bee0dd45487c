package user

import (
	"errors"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
)

func TestKeyMakesLookAlikesCollide(t *testing.T) {
	for _, group := range [][]string{
		{"Ana", "ANA", "ana", "Ａｎａ"},
		{"José", "JOSE\u0301", "jose\u0301"},
		{"straße", "STRASSE", "strasse"},
		{"ﬁle", "file"},
	} {
		for _, s := range group[1:] {
			if Key(s) != Key(group[0]) {
				t.Errorf("Key(%q) = %q, Key(%q) = %q: want equal", s, Key(s), group[0], Key(group[0]))
			}
		}
	}
	if Key("ana") == Key("anna") {
		t.Error("distinct names collide")
	}
}

func TestValidateEmails(t *testing.T) {
	got, err := validateEmails([]Email{{Value: "Ada@Example.COM"}})
	if err != nil || len(got) != 1 || got[0].Value != "Ada@example.com" || !got[0].Primary {
		t.Fatalf("lone email: %+v %v", got, err)
	}
	for name, in := range map[string][]Email{
		"display name":      {{Value: "Ada <ada@example.com>"}},
		"no domain dot":     {{Value: "ada@localhost"}},
		"ip literal":        {{Value: "ada@[127.0.0.1]"}},
		"not an address":    {{Value: "ada"}},
		"two primaries":     {{Value: "a@x.example", Primary: true}, {Value: "b@x.example", Primary: true}},
		"no primary of two": {{Value: "a@x.example"}, {Value: "b@x.example"}},
		"duplicate by case": {{Value: "a@x.example", Primary: true}, {Value: "A@X.example"}},
		"control character": {{Value: "a\n@x.example"}},
	} {
		if _, err := validateEmails(in); !errors.Is(err, errkind.Invalid) {
			t.Errorf("%s: accepted %v", name, in)
		}
	}
}

func TestValidateProfile(t *testing.T) {
	ok := &User{Source: SourceLocal, Phone: "+14155550100", Locale: "en-us", TimeZone: "Europe/Berlin"}
	if err := validateProfile(ok); err != nil || ok.Locale != "en-US" {
		t.Fatalf("valid profile: %v (locale %q)", err, ok.Locale)
	}
	for _, tc := range []struct {
		field string
		u     User
	}{
		{"phone", User{Source: SourceLocal, Phone: "555-0100"}},
		{"locale", User{Source: SourceLocal, Locale: "not a locale"}},
		{"time_zone", User{Source: SourceLocal, TimeZone: "Mars/Olympus"}},
		{"time_zone", User{Source: SourceLocal, TimeZone: "Local"}},
		{"source", User{Source: "carrier-pigeon"}},
		{"external_ids.CRM", User{Source: SourceLocal, ExternalIDs: map[string]string{"CRM": "1"}}},
		{"external_ids.crm", User{Source: SourceLocal, ExternalIDs: map[string]string{"crm": ""}}},
		{"given_name", User{Source: SourceLocal, GivenName: "a\x00b"}},
	} {
		fs := errkind.Fields(validateProfile(&tc.u))
		if len(fs) != 1 || fs[0].Field != tc.field {
			t.Errorf("%+v: fields %v, want %s", tc.u, fs, tc.field)
		}
	}
	for _, u := range []string{"", " lead", "trail ", "a\tb", string([]byte{0xff})} {
		if err := validateUsername(u); err == nil {
			t.Errorf("username %q accepted", u)
		}
	}
}

func TestSchemaCheck(t *testing.T) {
	s := Schema{Attributes: []AttributeDef{
		{Name: "employee_no", Type: TypeInteger, Required: true},
		{Name: "tier", Type: TypeString, Enum: []string{"gold", "silver"}},
		{Name: "tags", Type: TypeStrings, MaxLength: 5},
		{Name: "vip", Type: TypeBoolean},
		{Name: "born", Type: TypeDate},
		{Name: "score", Type: TypeNumber},
	}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Check(map[string]any{"employee_no": 42.0, "tier": "gold", "tags": []any{"a", "b"}, "vip": true, "born": "1990-02-03", "score": 1.5})
	if err != nil || got["employee_no"] != int64(42) {
		t.Fatalf("valid attributes: %v %v", got, err)
	}
	for name, attrs := range map[string]map[string]any{
		"attributes.employee_no": {},
		"attributes.unknown":     {"employee_no": 1.0, "unknown": "x"},
		"attributes.tier":        {"employee_no": 1.0, "tier": "bronze"},
		"attributes.tags":        {"employee_no": 1.0, "tags": []any{"toolong"}},
		"attributes.vip":         {"employee_no": 1.0, "vip": "yes"},
		"attributes.born":        {"employee_no": 1.0, "born": "03/02/1990"},
		"attributes.score":       {"employee_no": 1.0, "score": "high"},
	} {
		if fs := errkind.Fields(func() error { _, err := s.Check(attrs); return err }()); len(fs) != 1 || fs[0].Field != name {
			t.Errorf("%v: fields %v, want %s", attrs, fs, name)
		}
	}
	if fs := errkind.Fields(func() error { _, err := s.Check(map[string]any{"employee_no": 1.5}); return err }()); len(fs) != 1 {
		t.Errorf("a fraction passed as integer")
	}
	bad := Schema{Attributes: []AttributeDef{{Name: "Bad Name", Type: "blob"}, {Name: "x", Type: TypeBoolean, Enum: []string{"a"}}, {Name: "x", Type: TypeString}}}
	if fs := errkind.Fields(bad.Validate()); len(fs) != 4 {
		t.Errorf("bad schema: %v", fs)
	}
}
