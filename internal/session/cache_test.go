package session

import "testing"

// Refreshing an entry that is already cached must not evict others, even
// when the cache is full: a busy session's activity would otherwise empty
// the cache an eighth at a time.
func TestCacheRefreshKeepsAFullCache(t *testing.T) {
	c := NewCache(8)
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		c.put(k, Session{ID: ID(k)}, c.gen.Load())
	}
	c.put("a", Session{ID: "a2"}, c.gen.Load())
	if len(c.entries) != 8 {
		t.Fatalf("%d entries after refreshing one, want 8", len(c.entries))
	}
	if s, ok := c.get("a"); !ok || s.ID != "a2" {
		t.Errorf("refreshed entry: %v %v", s.ID, ok)
	}
	c.put("i", Session{ID: "i"}, c.gen.Load()) // a new one makes room
	if len(c.entries) != 8 {                   // 8 - 8/8 + 1
		t.Errorf("%d entries after adding to a full cache, want 8", len(c.entries))
	}
	if _, ok := c.get("i"); !ok {
		t.Error("the new entry is missing")
	}
	c.invalidate()
	if _, ok := c.get("i"); ok || len(c.entries) != 0 {
		t.Error("invalidate left entries")
	}
}
