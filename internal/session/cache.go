package session

import (
	"sync"
	"sync/atomic"
)

// Cache keeps validated sessions in memory so that a signed-in request
// needs no database read. Any change that ends sessions in this process
// moves the generation on after its commit, which voids every entry at
// once; an entry also carries the session's own timeouts.
//
// It is right only where one process writes the sessions, as with SQLite.
// Several nodes sharing PostgreSQL would each miss the others' revocations,
// so the server enables it for SQLite alone.
type Cache struct {
	gen     atomic.Uint64
	mu      sync.RWMutex
	entries map[string]cached
	max     int
}

type cached struct {
	ses Session
	gen uint64
}

// NewCache makes a cache of at most max sessions.
func NewCache(max int) *Cache {
	return &Cache{entries: make(map[string]cached), max: max}
}

func (c *Cache) get(hash string) (Session, bool) {
	g := c.gen.Load()
	c.mu.RLock()
	e, ok := c.entries[hash]
	c.mu.RUnlock()
	return e.ses, ok && e.gen == g
}

// put keeps ses under gen, the generation read before the session was.
func (c *Cache) put(hash string, ses Session, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := c.entries[hash]; !known && len(c.entries) >= c.max {
		// Full: drop about an eighth, in map order (random enough), rather
		// than keep an LRU list on the hot path.
		n := c.max / 8
		for k := range c.entries {
			if n--; n < 0 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[hash] = cached{ses: ses, gen: gen}
}

// invalidate voids every entry.
func (c *Cache) invalidate() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
