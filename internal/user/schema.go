package user

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Attribute types a profile schema can declare.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeDate    = "date" // RFC 3339 full-date, 2006-01-02
	TypeStrings = "string_list"
)

// Schema is a tenant's declaration of the custom profile attributes users may
// carry. Attributes not in the schema are refused.
type Schema struct {
	Attributes []AttributeDef `json:"attributes"`
}

// AttributeDef declares one custom attribute.
type AttributeDef struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Required     bool     `json:"required,omitempty"`
	Enum         []string `json:"enum,omitempty"`       // allowed values for string and string_list
	MaxLength    int      `json:"max_length,omitempty"` // for strings; default 1024
	UserEditable bool     `json:"user_editable,omitempty"`
	Description  string   `json:"description,omitempty"`
}

var attrNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Validate checks the schema itself.
func (s Schema) Validate() error {
	var errs []error
	seen := map[string]bool{}
	if len(s.Attributes) > 200 {
		return errkind.Field("attributes", "at most 200 attributes")
	}
	for i, a := range s.Attributes {
		f := fmt.Sprintf("attributes.%d", i)
		if !attrNamePattern.MatchString(a.Name) {
			errs = append(errs, errkind.Field(f+".name", "must be 1 to 64 lower-case letters, digits or '_', starting with a letter"))
		} else if seen[a.Name] {
			errs = append(errs, errkind.Field(f+".name", "is declared twice"))
		}
		seen[a.Name] = true
		if !slices.Contains([]string{TypeString, TypeInteger, TypeNumber, TypeBoolean, TypeDate, TypeStrings}, a.Type) {
			errs = append(errs, errkind.Field(f+".type", "must be string, integer, number, boolean, date or string_list"))
		}
		if len(a.Enum) > 0 && a.Type != TypeString && a.Type != TypeStrings {
			errs = append(errs, errkind.Field(f+".enum", "only strings and string lists can have an enum"))
		}
		if a.MaxLength < 0 || a.MaxLength > 65536 {
			errs = append(errs, errkind.Field(f+".max_length", "must be between 0 and 65536"))
		}
	}
	return errors.Join(errs...)
}

func (s Schema) def(name string) (AttributeDef, bool) {
	i := slices.IndexFunc(s.Attributes, func(a AttributeDef) bool { return a.Name == name })
	if i < 0 {
		return AttributeDef{}, false
	}
	return s.Attributes[i], true
}

// Check validates attrs against the schema and returns them normalised
// (JSON numbers that are integers become int64).
func (s Schema) Check(attrs map[string]any) (map[string]any, error) {
	var errs []error
	out := make(map[string]any, len(attrs))
	for name, v := range attrs {
		d, ok := s.def(name)
		if !ok {
			errs = append(errs, errkind.Field("attributes."+name, "is not in the tenant's profile schema"))
			continue
		}
		nv, err := d.check(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = nv
	}
	for _, d := range s.Attributes {
		if _, given := attrs[d.Name]; d.Required && !given {
			errs = append(errs, errkind.Field("attributes."+d.Name, "is required"))
		}
	}
	return out, errors.Join(errs...)
}

func (d AttributeDef) check(v any) (any, error) {
	bad := func(msg string) error { return errkind.Field("attributes."+d.Name, msg) }
	switch d.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, bad("must be a string")
		}
		return s, d.checkString(s, bad)
	case TypeStrings:
		list, ok := v.([]any)
		if !ok || len(list) > 100 {
			return nil, bad("must be a list of at most 100 strings")
		}
		out := make([]any, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, bad("must be a list of strings")
			}
			if err := d.checkString(s, bad); err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, bad("must be true or false")
	case TypeInteger:
		n, ok := number(v)
		if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return nil, bad("must be an integer")
		}
		return int64(n), nil
	case TypeNumber:
		n, ok := number(v)
		if !ok || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, bad("must be a number")
		}
		return n, nil
	case TypeDate:
		s, ok := v.(string)
		if _, err := time.Parse(time.DateOnly, s); !ok || err != nil {
			return nil, bad("must be a date such as 2026-11-24")
		}
		return s, nil
	}
	return nil, bad("has an unknown type in the schema")
}

func (d AttributeDef) checkString(s string, bad func(string) error) error {
	max := d.MaxLength
	if max == 0 {
		max = 1024
	}
	switch {
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > max:
		return bad(fmt.Sprintf("must be valid text of at most %d characters", max))
	case len(d.Enum) > 0 && !slices.Contains(d.Enum, s):
		return bad("must be one of the schema's enum values")
	}
	return nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
