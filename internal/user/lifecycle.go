package user

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// Op is a lifecycle operation.
type Op string

// Lifecycle operations.
const (
	OpActivate   Op = "activate"
	OpSuspend    Op = "suspend"
	OpUnsuspend  Op = "unsuspend"
	OpDeactivate Op = "deactivate"
	OpReactivate Op = "reactivate"
	OpUnlock     Op = "unlock"
	OpLock       Op = "lock" // by sign-in lockout, not offered to API callers
)

// ErrTransition is an operation the user's current state does not allow.
var ErrTransition = fmt.Errorf("illegal lifecycle transition: %w", errkind.Conflict)

// transitionError explains one refused operation; it is an ErrTransition.
type transitionError struct{ msg string }

func (e *transitionError) Error() string { return e.msg }
func (e *transitionError) Unwrap() error { return ErrTransition }

func refuse(format string, args ...any) error { return &transitionError{fmt.Sprintf(format, args...)} }

// transitions lists, per status-changing operation, the states it may start
// from and the state it leads to.
var transitions = map[Op]struct {
	from []Status
	to   Status
}{
	OpActivate:   {[]Status{Staged}, Active},
	OpSuspend:    {[]Status{Active}, Suspended},
	OpUnsuspend:  {[]Status{Suspended}, Active},
	OpDeactivate: {[]Status{Staged, Active, Suspended}, Deactivated},
	OpReactivate: {[]Status{Deactivated}, Active},
}

// ParseOp returns the API-callable operation named s.
func ParseOp(s string) (Op, bool) {
	op := Op(s)
	_, ok := transitions[op]
	return op, ok || op == OpUnlock
}

// apply changes u as op demands, or explains why it cannot.
func (op Op) apply(u *User) error {
	switch op {
	case OpUnlock, OpLock:
		if u.Locked == (op == OpLock) {
			return refuse("user is already %sed", op)
		}
		u.Locked = op == OpLock
		return nil
	}
	t, ok := transitions[op]
	if !ok {
		return errkind.Field("operation", "unknown lifecycle operation")
	}
	if !slices.Contains(t.from, u.Status) {
		from := make([]string, len(t.from))
		for i, s := range t.from {
			from[i] = string(s)
		}
		return refuse("cannot %s a user who is %s (allowed from %s)", op, u.Status, strings.Join(from, ", "))
	}
	u.Status = t.to
	return nil
}
