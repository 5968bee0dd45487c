package samlidp

import (
	"context"
	"sync"
	"time"

	"github.com/tessera-iam/tessera/internal/tenant"
)

// brandingTTL is how long the pages keep a tenant's display name from its
// branding. Staleness is harmless: it is the name at the top of a page (the
// auto-posting form of a response, an error page), nothing any decision
// rests on; a change shows within brandingTTL on every node.
const brandingTTL = 5 * time.Second

// brandingCache keeps the branded tenant name per tenant.
type brandingCache struct {
	mu      sync.Mutex
	entries map[tenant.ID]brandingEntry
}

type brandingEntry struct {
	name    string
	expires time.Time // monotonic
}

// tenantName is the name the pages show for t: its branding's, else its own.
func (h *Handler) tenantName(ctx context.Context, t *tenant.Tenant) string {
	c := h.branding
	if c != nil {
		c.mu.Lock()
		e, ok := c.entries[t.ID]
		c.mu.Unlock()
		if ok && time.Now().Before(e.expires) {
			if e.name != "" {
				return e.name
			}
			return t.Name
		}
	}
	b, err := h.Sessions.BrandingFor(ctx, t.ID, "")
	if err != nil {
		return t.Name // as before: a failed read shows the tenant's own name, and is tried again next time
	}
	if c != nil {
		c.mu.Lock()
		if c.entries == nil || len(c.entries) >= 4096 {
			c.entries = make(map[tenant.ID]brandingEntry)
		}
		c.entries[t.ID] = brandingEntry{name: b.Name, expires: time.Now().Add(brandingTTL)}
		c.mu.Unlock()
	}
	if b.Name != "" {
		return b.Name
	}
	return t.Name
}
