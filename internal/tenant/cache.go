package tenant

import (
	"sync"
	"time"
)

// SlugCacheTTL is how long TenantBySlug keeps a tenant it read.
//
// What a cached tenant can get wrong is harmless for that long: tenants are
// never deleted and their id and slug never change, so a slug always
// resolves to the same tenant; only the display name, the own domain and
// the version can be stale, and only after a change made by another
// process (another node, a CLI beside the server), since a change through
// this service clears the cache after its commit. The domain that routes
// requests is looked up by TenantByDomain, which is not cached; a version
// sent back as If-Match is checked against the row, in the update's
// transaction. A slug that is not found is never cached.
const SlugCacheTTL = 5 * time.Second

// slugCacheMax bounds the cache; past it, it starts over.
const slugCacheMax = 4096

// slugCache keeps tenants by slug for SlugCacheTTL. Its zero value is
// ready. gen moves on with every change in this process, so a read that
// straddles one is not kept.
type slugCache struct {
	mu      sync.RWMutex
	gen     uint64
	entries map[string]slugEntry
}

type slugEntry struct {
	t       Tenant
	expires time.Time // monotonic
}

func (c *slugCache) get(slug string) (*Tenant, bool) {
	c.mu.RLock()
	e, ok := c.entries[slug]
	c.mu.RUnlock()
	if !ok || !time.Now().Before(e.expires) {
		return nil, false
	}
	t := e.t // a copy: callers may change what they get
	return &t, true
}

func (c *slugCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put keeps t, read after generation returned gen, unless a change came in
// meanwhile.
func (c *slugCache) put(t *Tenant, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.entries == nil || len(c.entries) >= slugCacheMax {
		c.entries = make(map[string]slugEntry)
	}
	c.entries[t.Slug] = slugEntry{t: *t, expires: time.Now().Add(SlugCacheTTL)}
}

// invalidate forgets every tenant; run after a change commits.
func (c *slugCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}
