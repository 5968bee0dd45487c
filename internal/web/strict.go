package web

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Optional is a JSON merge-patch member (RFC 7396): absent, null, or a value.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON is called only when the member is present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Ptr returns nil when absent, the zero value for null, else the value.
func (o Optional[T]) Ptr() *T {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}

func (Optional[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }

type optionalType interface{ valueType() reflect.Type }

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	optionalIface   = reflect.TypeFor[optionalType]()
)

// checkShape walks a JSON document against the Go type it will be decoded
// into, refusing what encoding/json lets through: member names that match a
// field only case-insensitively ({"USERNAME": ...} would set Username),
// duplicate members (the last silently wins), and it names the exact path of
// a wrong type ("emails.0.value").
func checkShape(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walk(dec, t, "")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func fieldOr(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// jsonFields maps the exact JSON names of a struct's exported fields.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func walk(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return nil // syntax errors are reported by the decoding pass
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && reflect.PointerTo(t).Implements(optionalIface) {
		t = reflect.New(t).Interface().(optionalType).valueType()
	} else if t != nil && reflect.PointerTo(t).Implements(unmarshalerType) {
		t = nil // its own format (time.Time): check nothing inside
	}
	if tok == nil { // null is valid for every type, as in encoding/json
		return nil
	}
	want := func(what string) error { return errkind.Field(fieldOr(path), "must be "+what) }
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			var fields map[string]reflect.Type
			var elem reflect.Type
			switch {
			case t == nil || t.Kind() == reflect.Interface:
			case t.Kind() == reflect.Struct:
				fields = jsonFields(t)
			case t.Kind() == reflect.Map:
				elem = t.Elem()
			default:
				return want(kindName(t))
			}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil
				}
				name, _ := kt.(string)
				if seen[name] {
					return errkind.Field(join(path, name), "appears twice")
				}
				seen[name] = true
				next := elem
				if fields != nil {
					ft, ok := fields[name]
					if !ok {
						return errkind.Field(join(path, name), "is not a known field")
					}
					next = ft
				}
				if err := walk(dec, next, join(path, name)); err != nil {
					return err
				}
			}
			_, _ = dec.Token() // the closing delimiter; syntax errors are the decoding pass's
			return nil
		case '[':
			var elem reflect.Type
			switch {
			case t == nil || t.Kind() == reflect.Interface:
			case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
				elem = t.Elem()
			default:
				return want(kindName(t))
			}
			for i := 0; dec.More(); i++ {
				if err := walk(dec, elem, join(path, strconv.Itoa(i))); err != nil {
					return err
				}
			}
			_, _ = dec.Token() // the closing delimiter; syntax errors are the decoding pass's
			return nil
		}
	case string:
		if t != nil && t.Kind() != reflect.String && t.Kind() != reflect.Interface {
			return want(kindName(t))
		}
	case bool:
		if t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
			return want(kindName(t))
		}
	case json.Number:
		if t == nil || t.Kind() == reflect.Interface {
			return nil
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(tok.String(), 10, t.Bits()); err != nil {
				return want("a whole number in range")
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if _, err := strconv.ParseUint(tok.String(), 10, t.Bits()); err != nil {
				return want("a whole number in range")
			}
		case reflect.Float32, reflect.Float64:
		default:
			return want(kindName(t))
		}
	}
	return nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "of another type"
}
