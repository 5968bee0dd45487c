// Package errkind names the few kinds of failure that every layer agrees on.
//
// Domain packages wrap one of these sentinels in their own errors
// (user.ErrNotFound wraps NotFound); the HTTP edge maps a kind to a status code
// with errors.Is and never inspects the message. Nothing here knows HTTP or SQL.
package errkind

import (
	"errors"
	"fmt"
)

// The kinds. Each domain sentinel wraps exactly one of them.
var (
	NotFound        = errors.New("not found")
	Conflict        = errors.New("conflict")
	Invalid         = errors.New("invalid")
	Denied          = errors.New("denied")
	Unauthenticated = errors.New("unauthenticated")
	// Precondition is a failed optimistic-concurrency check (a stale version).
	Precondition = errors.New("precondition failed")
)

// FieldError is an Invalid error that names the offending input field, so an
// API can answer with the field and a client can show the message beside it.
type FieldError struct {
	Field   string // dotted JSON path, e.g. "emails.0.value"
	Message string // lower-case, safe to show to the caller
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes every FieldError an Invalid error.
func (e *FieldError) Unwrap() error { return Invalid }

// Field returns a FieldError for field with message.
func Field(field, message string) error { return &FieldError{Field: field, Message: message} }

// Fields collects every FieldError in err (which may be an errors.Join tree).
func Fields(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Stale is the error for a failed optimistic-concurrency check (If-Match).
var Stale = fmt.Errorf("resource was modified since it was read: %w", Precondition)

// CheckVersion returns Stale unless want is zero (no check asked) or equals
// the current version.
func CheckVersion(current, want int64) error {
	if want != 0 && current != want {
		return Stale
	}
	return nil
}

// Relabel returns err with every FieldError moved to field, for when a
// shared validator's field name differs from the caller's input (a hash
// checked as "hash" arrives as "password_hash").
func Relabel(err error, field string) error {
	fs := Fields(err)
	if len(fs) == 0 {
		return err
	}
	out := make([]error, len(fs))
	for i, f := range fs {
		out[i] = Field(field, f.Message)
	}
	return errors.Join(out...)
}
