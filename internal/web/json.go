package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// DecodeJSON reads exactly one JSON value from the body into dst, refusing
// unknown fields, trailing data, wrong types and oversized bodies with errors
// that name the field.
func DecodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return ErrUnsupportedMedia
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if tooLarge(err) {
			return ErrTooLarge
		}
		return errkind.Field("body", "could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if shapeErr := checkShape(body, reflect.TypeOf(dst)); shapeErr != nil {
			return shapeErr // names the exact path of a wrong type
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errkind.Field("body", "must hold exactly one JSON value")
	}
	return checkShape(body, reflect.TypeOf(dst))
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case tooLarge(err):
		return ErrTooLarge
	case errors.As(err, &syn):
		return errkind.Field("body", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return errkind.Field(field, "must be "+jsonTypeName(typ.Type.Kind().String()))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errkind.Field("body", "is empty or cut short")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errkind.Field(name, "is not a known field")
	}
	var fe *errkind.FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return errkind.Field("body", "is not valid JSON for this request")
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64":
		return "a number"
	}
	return "of another type"
}

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
