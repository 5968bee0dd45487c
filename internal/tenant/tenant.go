package tenant

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-iam/tessera/internal/audit"
	"github.com/tessera-iam/tessera/internal/errkind"
	"github.com/tessera-iam/tessera/internal/id"
	"github.com/tessera-iam/tessera/internal/page"
)

// ID identifies a tenant.
type ID string

// Errors about tenants.
var (
	ErrNotFound  = fmt.Errorf("tenant %w", errkind.NotFound)
	ErrSlugTaken = fmt.Errorf("tenant slug already in use: %w", errkind.Conflict)
	ErrHostTaken = fmt.Errorf("domain already serves another tenant: %w", errkind.Conflict)
)

// Tenant is one operator of Tessera.
type Tenant struct {
	ID   ID
	Slug string // appears in URLs: /t/{slug}/
	Name string
	// Domain is the tenant's own host name for its sign-in pages and
	// portal ("login.acme.com"), besides /t/{slug}/ on Tessera's host.
	Domain  string
	Version int64
	Created time.Time
	Updated time.Time
}

// Scope is the reach of a caller inside one tenant: the whole tenant, or one
// organization of it when Org is set.
type Scope struct {
	Tenant ID
	Org    OrgID
}

// Allows reports whether the scope reaches data homed in org ("" means
// tenant-wide data, which only a tenant-wide scope reaches).
func (s Scope) Allows(org OrgID) bool { return s.Org == "" || s.Org == org }

// TenantWide reports whether the scope covers the whole tenant.
func (s Scope) TenantWide() bool { return s.Org == "" }

// Store keeps tenants and organizations.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	audit.Appender

	CreateTenant(ctx context.Context, t *Tenant) error
	Tenant(ctx context.Context, id ID) (*Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	TenantByDomain(ctx context.Context, domain string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
	UpdateTenant(ctx context.Context, id ID, fn func(*Tenant) error) (*Tenant, error)

	CreateOrganization(ctx context.Context, o *Organization) error
	Organization(ctx context.Context, t ID, id OrgID) (*Organization, error)
	// OrganizationRow returns an organization without its Domains, in one
	// read.
	OrganizationRow(ctx context.Context, t ID, id OrgID) (*Organization, error)
	OrganizationByDomain(ctx context.Context, t ID, domain string) (*Organization, error)
	ListOrganizations(ctx context.Context, t ID, q OrgQuery) (page.Of[Organization], error)
	UpdateOrganization(ctx context.Context, t ID, id OrgID, fn func(*Organization) error) (*Organization, error)
	DeleteOrganization(ctx context.Context, t ID, id OrgID) error
}

// Service applies the rules for tenants and organizations.
type Service struct {
	Store    Store
	Now      func() time.Time
	Resolver Resolver // DNS TXT look-ups for domain verification
	// OrgStatusChanged runs inside the transaction that changes an
	// organization's status, so derived state (effective access) follows.
	// May be nil.
	OrgStatusChanged func(ctx context.Context, t ID, org OrgID) error

	bySlug slugCache
}

// slugPattern: lower-case DNS-label-like, so a slug is safe in a path and a
// host name.
var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// Slugs that would shadow Tessera's own top-level paths or confuse admins.
var reservedSlugs = []string{"api", "admin", "static", "healthz", "readyz", "metrics", "t", "www", "system"}

func validateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return errkind.Field("slug", "must be 1 to 63 lower-case letters, digits or inner hyphens")
	}
	if slices.Contains(reservedSlugs, slug) {
		return errkind.Field("slug", "is reserved")
	}
	return nil
}

func validateName(field, name string) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return errkind.Field(field, "is required")
	case utf8.RuneCountInString(name) > 200:
		return errkind.Field(field, "must be at most 200 characters")
	case strings.ContainsFunc(name, isControl):
		return errkind.Field(field, "must not contain control characters")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// CreateTenant adds a tenant.
func (s *Service) CreateTenant(ctx context.Context, slug, name string) (*Tenant, error) {
	if err := errors.Join(validateSlug(slug), validateName("name", name)); err != nil {
		return nil, err
	}
	now := s.Now()
	t := &Tenant{ID: ID(id.New("ten", now)), Slug: slug, Name: strings.TrimSpace(name), Version: 1, Created: now, Updated: now}
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateTenant(ctx, t); err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t.ID), now, "tenant.created", "tenant", string(t.ID),
			map[string]any{"slug": slug}))
	})
	if err != nil {
		return nil, fmt.Errorf("create tenant %s: %w", slug, err)
	}
	return t, nil
}

// Tenant returns a tenant by id.
func (s *Service) Tenant(ctx context.Context, t ID) (*Tenant, error) { return s.Store.Tenant(ctx, t) }

// TenantBySlug returns a tenant by its slug, from a cache of at most
// SlugCacheTTL (see slugCache): every request to a tenant's pages resolves
// it. Tenant(id) reads the database.
func (s *Service) TenantBySlug(ctx context.Context, slug string) (*Tenant, error) {
	if t, ok := s.bySlug.get(slug); ok {
		return t, nil
	}
	gen := s.bySlug.generation()
	t, err := s.Store.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	s.bySlug.put(t, gen)
	return t, nil
}

// ListTenants returns every tenant, by slug.
func (s *Service) ListTenants(ctx context.Context) ([]Tenant, error) { return s.Store.ListTenants(ctx) }

// TenantByDomain returns the tenant whose own host name is domain.
func (s *Service) TenantByDomain(ctx context.Context, domain string) (*Tenant, error) {
	return s.Store.TenantByDomain(ctx, strings.ToLower(domain))
}

// SetTenantDomain gives a tenant its own host name for the sign-in pages
// and portal ("" removes it). The operator points the name at Tessera (DNS,
// TLS certificate); Tessera then serves that tenant, and only it, there.
func (s *Service) SetTenantDomain(ctx context.Context, t ID, domain string, ifVersion int64) (*Tenant, error) {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if domain != "" && !validHostName(domain) {
		return nil, errkind.Field("domain", "must be a host name such as login.example.com")
	}
	var out *Tenant
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var old string
		var err error
		out, err = s.Store.UpdateTenant(ctx, t, func(x *Tenant) error {
			if err := errkind.CheckVersion(x.Version, ifVersion); err != nil {
				return err
			}
			old, x.Domain, x.Updated = x.Domain, domain, s.Now()
			x.Version++
			return nil
		})
		if err != nil {
			return errkind.Relabel(err, "domain")
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), out.Updated, "tenant.domain_set", "tenant", string(t),
			map[string]any{"domain": map[string]string{"old": old, "new": out.Domain}}))
	})
	s.bySlug.invalidate()
	return out, err
}

// validHostName accepts a DNS name of at least two labels, no IP address.
func validHostName(h string) bool {
	labels := strings.Split(h, ".")
	if len(h) > 253 || len(labels) < 2 || net.ParseIP(h) != nil {
		return false
	}
	for _, l := range labels {
		if !slugPattern.MatchString(l) {
			return false
		}
	}
	return true
}

// RenameTenant changes a tenant's display name. ifVersion, when non-zero, must
// match the current version (optimistic concurrency).
func (s *Service) RenameTenant(ctx context.Context, t ID, name string, ifVersion int64) (*Tenant, error) {
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	var out *Tenant
	err := s.Store.InTx(ctx, func(ctx context.Context) error {
		var old string
		var err error
		out, err = s.Store.UpdateTenant(ctx, t, func(x *Tenant) error {
			if err := errkind.CheckVersion(x.Version, ifVersion); err != nil {
				return err
			}
			old, x.Name, x.Updated = x.Name, strings.TrimSpace(name), s.Now()
			x.Version++
			return nil
		})
		if err != nil {
			return err
		}
		return s.Store.AppendEvent(ctx, audit.New(ctx, string(t), out.Updated, "tenant.updated", "tenant", string(t),
			map[string]any{"name": map[string]string{"old": old, "new": out.Name}}))
	})
	s.bySlug.invalidate()
	return out, err
}
