package login

import (
	"testing"
	"time"
)

func TestLimitKeyGroupsIPv6By64(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"},
		{"::ffff:203.0.113.9", "::ffff:203.0.113.9"},
		{"not an address", "not an address"},
	} {
		if got := limitKey(c.ip); got != c.want {
			t.Errorf("limitKey(%q) = %q, want %q", c.ip, got, c.want)
		}
	}
}

func TestLimiterRefillsAndForgetsFullBuckets(t *testing.T) {
	l := newLimiter(60, 2) // one a second, bursts of two
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []bool{true, true, false} {
		if got := l.allow("a", now); got != want {
			t.Fatalf("burst request %d: allowed %v, want %v", i+1, got, want)
		}
	}
	if l.allow("a", now.Add(500*time.Millisecond)) || !l.allow("a", now.Add(time.Second)) {
		t.Error("one token back after a second, not before")
	}
	if !l.allow("b", now) {
		t.Error("buckets are per key")
	}
	l.allow("c", now.Add(3*time.Minute)) // sweeps: a and b are full again
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets kept after the sweep, want 1", len(l.buckets))
	}
}
