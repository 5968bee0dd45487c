package tenant

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-iam/tessera/internal/audit"
)

// slugStore answers TenantBySlug and the tenant updates from memory,
// counting the reads by slug; the rest of Store is not needed here.
type slugStore struct {
	Store
	tenants map[string]*Tenant
	reads   int
	during  func() // runs inside a read by slug
}

func (s *slugStore) TenantBySlug(_ context.Context, slug string) (*Tenant, error) {
	s.reads++
	if s.during != nil {
		s.during()
	}
	t, ok := s.tenants[slug]
	if !ok {
		return nil, ErrNotFound
	}
	c := *t
	return &c, nil
}

func (s *slugStore) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return fn(ctx)
}

func (s *slugStore) AppendEvent(context.Context, *audit.Event) error { return nil }

func (s *slugStore) UpdateTenant(_ context.Context, id ID, fn func(*Tenant) error) (*Tenant, error) {
	for _, t := range s.tenants {
		if t.ID == id {
			if err := fn(t); err != nil {
				return nil, err
			}
			c := *t
			return &c, nil
		}
	}
	return nil, ErrNotFound
}

func TestTenantBySlugCache(t *testing.T) {
	ctx := context.Background()
	st := &slugStore{tenants: map[string]*Tenant{"acme": {ID: "ten_1", Slug: "acme", Name: "Acme", Version: 1}}}
	s := &Service{Store: st, Now: time.Now}
	read := func(want string, reads int) {
		t.Helper()
		got, err := s.TenantBySlug(ctx, "acme")
		if err != nil || got.Name != want || st.reads != reads {
			t.Fatalf("TenantBySlug = %+v, %v after %d reads; want %s after %d", got, err, st.reads, want, reads)
		}
		got.Name = "changed by a caller" // must not reach the cache
	}
	read("Acme", 1)
	read("Acme", 1) // cached

	// A change through the service shows at once.
	if _, err := s.RenameTenant(ctx, "ten_1", "Acme Two", 0); err != nil {
		t.Fatal(err)
	}
	read("Acme Two", 2)
	read("Acme Two", 2)
	if _, err := s.SetTenantDomain(ctx, "ten_1", "login.acme.example", 0); err != nil {
		t.Fatal(err)
	}
	read("Acme Two", 3)

	// A change elsewhere (another node, the CLI) shows within the TTL.
	st.tenants["acme"].Name = "Acme Three"
	read("Acme Two", 3)
	s.bySlug.mu.Lock()
	e := s.bySlug.entries["acme"]
	e.expires = time.Now().Add(-time.Millisecond)
	s.bySlug.entries["acme"] = e
	s.bySlug.mu.Unlock()
	read("Acme Three", 4)

	// A read that straddles a change in this process is not kept.
	s.bySlug.invalidate()
	st.during = func() { s.bySlug.invalidate() }
	read("Acme Three", 5)
	st.during = nil
	read("Acme Three", 6)
	read("Acme Three", 6)

	// An unknown slug is never cached.
	for i := range 2 {
		if _, err := s.TenantBySlug(ctx, "nope"); !errors.Is(err, ErrNotFound) || st.reads != 7+i {
			t.Fatalf("unknown slug: %v after %d reads", err, st.reads)
		}
	}
}
