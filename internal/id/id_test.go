package id

import (
	"testing"
	"time"
)

func TestNewSortsByTimeAndValidates(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	a := New("usr", t0)
	b := New("usr", t0.Add(time.Millisecond))
	if !(a < b) {
		t.Fatalf("ids not ordered by time: %s !< %s", a, b)
	}
	if New("usr", t0) == a {
		t.Fatal("two ids in the same millisecond are equal")
	}
	for _, tc := range []struct {
		prefix, s string
		want      bool
	}{
		{"usr", a, true},
		{"grp", a, false},
		{"usr", a[:len(a)-1], false},
		{"usr", a + "0", false},
		{"usr", "usr_" + "IIIIIIIIIIIIIIIIIIIIIIIIII", false},
		{"usr", "", false},
	} {
		if got := Valid(tc.prefix, tc.s); got != tc.want {
			t.Errorf("Valid(%q, %q) = %v, want %v", tc.prefix, tc.s, got, tc.want)
		}
	}
}
