package user

import (
	"errors"
	"testing"

	"github.com/tessera-iam/tessera/internal/errkind"
)

func TestLifecycleTransitions(t *testing.T) {
	all := []Status{Staged, Active, Suspended, Deactivated}
	legal := map[Op]map[Status]Status{
		OpActivate:   {Staged: Active},
		OpSuspend:    {Active: Suspended},
		OpUnsuspend:  {Suspended: Active},
		OpDeactivate: {Staged: Deactivated, Active: Deactivated, Suspended: Deactivated},
		OpReactivate: {Deactivated: Active},
	}
	for op, ok := range legal {
		for _, from := range all {
			u := &User{Status: from}
			err := op.apply(u)
			want, isLegal := ok[from]
			switch {
			case isLegal && (err != nil || u.Status != want):
				t.Errorf("%s from %s: got %s, %v; want %s", op, from, u.Status, err, want)
			case !isLegal && (!errors.Is(err, errkind.Conflict) || u.Status != from):
				t.Errorf("%s from %s: got %s, %v; want refusal and no change", op, from, u.Status, err)
			}
		}
	}
}

func TestLockIsOrthogonal(t *testing.T) {
	u := &User{Status: Suspended}
	if err := OpLock.apply(u); err != nil || !u.Locked || u.Status != Suspended {
		t.Fatalf("lock: %+v %v", u, err)
	}
	if err := OpLock.apply(u); !errors.Is(err, ErrTransition) {
		t.Fatalf("second lock: %v", err)
	}
	if err := OpUnsuspend.apply(u); err != nil || !u.Locked || u.Status != Active {
		t.Fatalf("unsuspend while locked: %+v %v", u, err)
	}
	if err := OpUnlock.apply(u); err != nil || u.Locked {
		t.Fatalf("unlock: %+v %v", u, err)
	}
	if err := OpUnlock.apply(u); !errors.Is(err, ErrTransition) {
		t.Fatalf("unlock when not locked: %v", err)
	}
	if _, ok := ParseOp("lock"); ok {
		t.Fatal("lock must not be callable through ParseOp")
	}
}
