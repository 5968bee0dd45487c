package testkit

import (
	"sync"
	"time"
)

// Clock is a settable clock for services under test: it moves only when the
// test says so, so tests of delays and expiry never sleep. Its times are UTC
// with microsecond precision, what the databases keep.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock {
	return &Clock{t: t.UTC().Truncate(time.Microsecond)}
}

// Now is the clock's time; pass it where a service takes Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.UTC().Truncate(time.Microsecond)
}

// Advance moves the clock on by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d).UTC().Truncate(time.Microsecond)
	return c.t
}
